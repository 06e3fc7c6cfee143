#!/usr/bin/env node
// Backstage's own scaffolder pieces, driven from the Python tests (tests/test_portal.py).
//
//   node scaffold.cjs validate TEMPLATE.yaml FORMS.json
//       The catalog's entity validators and the Template v1beta3 schema on the template;
//       then each answer set of FORMS.json ({"name": {...answers}}), over the defaults the
//       form fills in, through the form's own validator (rjsf + ajv8, as the scaffolder
//       frontend does it), page by page.
//       Prints one JSON object: {"entity": "ok", "forms": {"name": [errors...]}}.
//
//   node scaffold.cjs run TEMPLATE.yaml VALUES.json CAPTURE_DIR
//       What the scaffolder backend does with a filled form: the parameter pages check the
//       values (as the router does), the template's steps run in Backstage's workflow
//       runner (NunjucksWorkflowRunner) with the real fetch:cookiecutter action and the
//       built-in fs:* actions. Only the steps that would leave the machine are stubbed:
//       publish:* copies the workspace it is handed to CAPTURE_DIR, catalog:register
//       records its input. Prints {"output": ..., "published": [...], "registered": [...]}.
//
//   node scaffold.cjs run-many TEMPLATE.yaml JOBS.json
//       Several button presses, one after the other, in one process (a backend runs many
//       tasks; starting node and loading the scaffolder costs about 2 s a press):
//       JOBS.json is {"name": {"values": VALUES.json, "capture": CAPTURE_DIR}}. Prints
//       {"name": {"result": ...} or {"error": "..."}}: one refused press fails alone.
//
// Exit 0 on success; 1 with the error on stderr.
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const yaml = require('yaml');

function backendModule(relative) {
  // The workflow runner and the action registry are the scaffolder backend's own classes,
  // not re-exported from its index: load them from the pinned package's dist.
  const root = path.dirname(require.resolve('@backstage/plugin-scaffolder-backend/package.json'));
  return require(path.join(root, 'dist', relative));
}

function readTemplate(file) {
  return yaml.parse(fs.readFileSync(file, 'utf8'));
}

// ------------------------------------------------------------------------ validate
async function validateEntity(entity) {
  const { entityEnvelopeSchemaValidator, entitySchemaValidator } = require('@backstage/catalog-model');
  const { templateEntityV1beta3Validator } = require('@backstage/plugin-scaffolder-common');
  entityEnvelopeSchemaValidator()(entity);
  entitySchemaValidator()(entity);
  const known = await templateEntityV1beta3Validator.check(entity);
  if (!known) throw new Error('not recognised as a scaffolder.backstage.io/v1beta3 Template');
}

function formValidator() {
  const { customizeValidator } = require('@rjsf/validator-ajv8');
  return customizeValidator();
}

function pageErrors(validator, page, values) {
  const { errors } = validator.validateFormData(values, page);
  return errors.map((e) => `${e.property || '.'} ${e.message}`);
}

async function validate(templateFile, formsFile) {
  const entity = readTemplate(templateFile);
  await validateEntity(entity);
  const validator = formValidator();
  const pages = [entity.spec.parameters].flat();
  const forms = JSON.parse(fs.readFileSync(formsFile, 'utf8'));
  const result = {};
  for (const [name, answers] of Object.entries(forms)) {
    const values = formData(entity, answers);
    result[name] = pages.flatMap((page) => pageErrors(validator, page, values));
  }
  return { entity: 'ok', forms: result };
}

// ----------------------------------------------------------------------------- run
const quiet = {
  child() { return quiet; },
  debug() {}, info() {}, warn() {},
  error(message, meta) { process.stderr.write(`${message} ${meta ? JSON.stringify(meta) : ''}\n`); },
};

// Metrics are exported nowhere here: every instrument accepts and drops its readings.
const noMetrics = new Proxy({}, {
  get: () => () => new Proxy({}, { get: () => () => undefined }),
});

function formData(entity, answers) {
  // What the form submits: the user's answers over each page's defaults (rjsf fills them).
  const { getDefaultFormState } = require('@rjsf/utils');
  const validator = formValidator();
  // Defaults follow the answers (a ticked `customise` reveals the tuning fields and their
  // defaults); the answers stay as typed, even where a form would not let them be.
  // The live form computes them again after every change, so a default that reveals more
  // fields (topology's default shows the Sentinel fields) fills theirs on the next render:
  // repeat until nothing changes, as re-rendering does.
  let data = answers;
  for (let render = 0; render < 5; render += 1) {
    const next = [entity.spec.parameters].flat().reduce(
      (acc, page) => ({ ...acc, ...getDefaultFormState(validator, page, acc), ...answers }), data);
    if (JSON.stringify(next) === JSON.stringify(data)) break;
    data = next;
  }
  return data;
}

function routerCheck(entity, values) {
  // The scaffolder router refuses a task whose values fail a parameter page (jsonschema).
  const { validate: check } = require('jsonschema');
  for (const page of [entity.spec.parameters].flat()) {
    const result = check(values, page);
    if (!result.valid) {
      throw new Error(`parameters refused: ${result.errors.map(String).join('; ')}`);
    }
  }
}

function actionRegistry(captureDir, calls) {
  const { DefaultTemplateActionRegistry } = backendModule('scaffolder/actions/TemplateActionRegistry.cjs.js');
  const builtin = require('@backstage/plugin-scaffolder-backend');
  const { createFetchCookiecutterAction } = require('@backstage/plugin-scaffolder-backend-module-cookiecutter');
  const { createTemplateAction } = require('@backstage/plugin-scaffolder-node');
  const { ScmIntegrations } = require('@backstage/integration');
  const { ConfigReader } = require('@backstage/config');

  const integrations = ScmIntegrations.fromConfig(new ConfigReader({}));
  const noReader = {
    readUrl() { throw new Error('no URL reading in tests: the template is registered from a file'); },
    readTree() { throw new Error('no URL reading in tests: the template is registered from a file'); },
    search() { throw new Error('no URL reading in tests'); },
  };
  const registry = new DefaultTemplateActionRegistry({ list: async () => ({ actions: [] }) }, quiet);
  registry.register(createFetchCookiecutterAction({ reader: noReader, integrations }));
  registry.register(builtin.createFilesystemDeleteAction());
  registry.register(builtin.createFilesystemRenameAction());
  registry.register(builtin.createDebugLogAction());

  for (const id of ['publish:github', 'publish:gitlab', 'publish:bitbucketServer', 'publish:azure']) {
    registry.register(createTemplateAction({
      id,
      description: 'stub: hands the workspace to the test instead of a git host',
      async handler(ctx) {
        fs.cpSync(ctx.workspacePath, captureDir, { recursive: true });
        calls.published.push({ id, input: ctx.input });
        ctx.output('remoteUrl', 'https://example.invalid/repo');
        ctx.output('repoContentsUrl', 'https://example.invalid/repo/blob/main');
      },
    }));
  }
  registry.register(createTemplateAction({
    id: 'catalog:register',
    description: 'stub: records what would be registered',
    async handler(ctx) {
      calls.registered.push(ctx.input);
      ctx.output('entityRef', 'resource:default/stub');
      ctx.output('catalogInfoUrl', `${ctx.input.repoContentsUrl}${ctx.input.catalogInfoPath}`);
    },
  }));
  return { registry, integrations };
}

let taskCount = 0;

async function run(templateFile, valuesFile, captureDir) {
  const { NunjucksWorkflowRunner } = backendModule('scaffolder/tasks/NunjucksWorkflowRunner.cjs.js');
  const entity = readTemplate(templateFile);
  const values = formData(entity, JSON.parse(fs.readFileSync(valuesFile, 'utf8')));
  routerCheck(entity, values);

  const calls = { published: [], registered: [] };
  const { registry, integrations } = actionRegistry(captureDir, calls);
  const workingDirectory = fs.mkdtempSync(path.join(os.tmpdir(), 'scaffolder-'));
  const runner = new NunjucksWorkflowRunner({
    actionRegistry: registry, integrations, logger: quiet, workingDirectory, metrics: noMetrics,
  });
  const logs = [];
  const taskId = `task-${process.pid}-${(taskCount += 1)}`;
  // The task as the router builds it from a template registered at a file: location.
  const task = {
    taskId,
    spec: {
      apiVersion: entity.apiVersion,
      steps: entity.spec.steps.map((step, index) => ({
        ...step, id: step.id ?? `step-${index + 1}`, name: step.name ?? step.action,
      })),
      output: entity.spec.output ?? {},
      parameters: values,
      user: { ref: 'user:default/tester' },
      templateInfo: {
        entityRef: `template:default/${entity.metadata.name}`,
        baseUrl: `file://${path.resolve(templateFile)}`,
        entity: { metadata: entity.metadata },
      },
    },
    secrets: {},
    isDryRun: false,
    cancelSignal: new AbortController().signal,
    createdBy: 'user:default/tester',
    getWorkspaceName: async () => taskId,
    getInitiatorCredentials: async () => ({ $$type: '@backstage/BackstageCredentials', principal: { type: 'none' } }),
    emitLog: async (message) => { logs.push(message); },
  };
  try {
    const result = await runner.execute(task);
    return { output: result.output, ...calls };
  } catch (error) {
    error.taskLog = logs.join('\n');
    throw error;
  } finally {
    fs.rmSync(workingDirectory, { recursive: true, force: true });
  }
}

function failure(error) {
  const log = error.taskLog === undefined ? '' : `--- task log ---\n${error.taskLog}\n--- end of task log ---\n`;
  return `${log}${error.stack || error}`;
}

async function runMany(templateFile, jobsFile) {
  const jobs = JSON.parse(fs.readFileSync(jobsFile, 'utf8'));
  const results = {};
  for (const [name, job] of Object.entries(jobs)) {
    try {
      results[name] = { result: await run(templateFile, job.values, job.capture) };
    } catch (error) {
      results[name] = { error: failure(error) };
    }
  }
  return results;
}

async function main([command, ...args]) {
  if (command === 'validate' && args.length === 2) return validate(...args);
  if (command === 'run' && args.length === 3) return run(...args);
  if (command === 'run-many' && args.length === 2) return runMany(...args);
  throw new Error(
    'usage: scaffold.cjs validate TEMPLATE FORMS | run TEMPLATE VALUES CAPTURE_DIR | run-many TEMPLATE JOBS');
}

main(process.argv.slice(2)).then(
  (result) => { process.stdout.write(`${JSON.stringify(result)}\n`); },
  (error) => { process.stderr.write(`${failure(error)}\n`); process.exitCode = 1; },
);
