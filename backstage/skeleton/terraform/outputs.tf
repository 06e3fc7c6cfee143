{#-
  Validation rules for copier.yml that plain Jinja can evaluate (no copier filters), so
  the portal rendition checks them too (redis_scaffold/portal/rendition.py inlines this
  file). Rules that need a regular expression live in includes/patterns.jinja.

  Each rule renders nothing when the value is valid, and one sentence that states the
  rule (and the offending value) when it is not. Copier prefixes the sentence with the
  question's name, so the user sees the field and the rule together:
  Validation error for question 'redis_port': must be ...
-#}

{%- macro one_line(value, max) -%}
{%- if not (value is string and value | trim | length > 0 and value | length <= max and '\n' not in value and '"' not in value and '\\' not in value and '{' not in value and '}' not in value) -%}
must be one line of 1 to {{ max }} characters without double quotes, backslashes or braces (got '{{ value }}')
{%- endif -%}
{%- endmacro -%}

{%- macro int_between(value, low, high, rule='') -%}
{%- if not (value is number and low <= value <= high) -%}
must be a whole number from {{ low }} to {{ high }}{{ rule }} (got '{{ value }}')
{%- endif -%}
{%- endmacro -%}

{#- Kubernetes resource quantities, restricted to the forms people write by hand. -#}
{%- set _binary = {'Ki': 1024, 'Mi': 1048576, 'Gi': 1073741824, 'Ti': 1099511627776} -%}
{%- set _decimal = {'k': 1000, 'M': 1000000, 'G': 1000000000, 'T': 1000000000000} -%}

{#- The unit suffix of a memory quantity ('' for plain bytes). -#}
{%- macro _unit(q) -%}
{{- q[-2:] if q[-2:] in _binary else (q[-1:] if q[-1:] in _decimal else '') -}}
{%- endmacro -%}

{#- True for ASCII digits with at most one inner '.', such as 512 or 1.5. -#}
{%- macro _decimal_number(n) -%}
{{- n.isascii() and n.replace('.', '', 1).isdigit() and n[:1].isdigit() and n[-1:].isdigit() -}}
{%- endmacro -%}

{#- The number of bytes in a memory quantity such as 512Mi, 1.5Gi or 2G. -#}
{%- macro bytes(q) -%}
{%- set unit = _unit(q) -%}
{{- (q[:q | length - unit | length] | float * (_binary[unit] if unit in _binary else _decimal.get(unit, 1))) | int -}}
{%- endmacro -%}

{#- The number of millicores in a CPU quantity such as 250m, 0.5 or 2. -#}
{%- macro millicores(q) -%}
{%- if q is string and q.endswith('m') -%}{{ q[:-1] | int }}{%- else -%}{{ (q | float * 1000) | int }}{%- endif -%}
{%- endmacro -%}

{%- macro memory(value, allow_empty=false) -%}
{%- if allow_empty and value == '' -%}
{%- elif not (value is string and _decimal_number(value[:value | length - _unit(value) | length]) == 'True' and bytes(value) | int >= 1048576) -%}
must be a Kubernetes memory quantity of at least 1Mi, such as 512Mi or 2Gi{{ ', or empty' if allow_empty }} (got '{{ value }}')
{%- endif -%}
{%- endmacro -%}

{%- macro cpu(value, allow_empty=false) -%}
{%- if allow_empty and value == '' -%}
{%- elif not (value is string and (
      (value.endswith('m') and value[:-1].isascii() and value[:-1].isdigit() and value[:1] != '0')
      or (value.split('.') | length <= 2 and value.split('.')[0].isascii() and value.split('.')[0].isdigit()
          and (value.split('.') | length == 1 or (value.split('.')[1].isascii() and value.split('.')[1].isdigit() and value.split('.')[1] | length <= 3))))
    and millicores(value) | int >= 1) -%}
must be a Kubernetes CPU quantity of at least 1m, such as 250m, 0.5 or 2{{ ', or empty' if allow_empty }} (got '{{ value }}')
{%- endif -%}
{%- endmacro -%}
{% set service_name = ((cookiecutter.service_name)) %}{% set __description %}Redis Sentinel for the {{ service_name }} service{% endset %}{% set description = (((cookiecutter.get('description', '') if cookiecutter.get('description', '')|string != '' else __description))) %}{% set owner = ((cookiecutter.owner)) %}{% set __system %}{{ service_name }}{% endset %}{% set system = (((cookiecutter.get('system', '') if cookiecutter.get('system', '')|string != '' else __system))) %}{% set lifecycle = ((cookiecutter.lifecycle)) %}{% set topology = ((cookiecutter.topology)) %}{% set engine = ((cookiecutter.engine)) %}{% set secret_delivery = ((cookiecutter.secret_delivery)) %}{% set client_languages = ((cookiecutter.client_languages).split(',') if cookiecutter.client_languages else []) %}{% set redis_namespace = ((cookiecutter.redis_namespace)) %}{% set __app_namespace %}{{ service_name }}{% endset %}{% set app_namespace = (((cookiecutter.get('app_namespace', '') if cookiecutter.get('app_namespace', '')|string != '' else __app_namespace))) %}{% set __app_deployment %}{{ service_name }}{% endset %}{% set app_deployment = (((cookiecutter.get('app_deployment', '') if cookiecutter.get('app_deployment', '')|string != '' else __app_deployment))) %}{% set __app_container %}{{ app_deployment }}{% endset %}{% set app_container = (((cookiecutter.get('app_container', '') if cookiecutter.get('app_container', '')|string != '' else __app_container))) %}{% set cluster_domain = ((cookiecutter.cluster_domain)) %}{% set __master_set %}{{ service_name }}-redis{% endset %}{% set master_set = (((cookiecutter.get('master_set', '') if cookiecutter.get('master_set', '')|string != '' else __master_set))) %}{% set redis_replicas = ((cookiecutter.redis_replicas)|int) %}{% set __sentinel_quorum %}{{ redis_replicas // 2 + 1 }}{% endset %}{% set sentinel_quorum = (((cookiecutter.get('sentinel_quorum', '') if cookiecutter.get('sentinel_quorum', '')|string != '' else __sentinel_quorum))|int) %}{% set min_replicas_to_write = ((cookiecutter.min_replicas_to_write)|int) %}{% set min_replicas_max_lag = ((cookiecutter.min_replicas_max_lag)|int) %}{% set down_after_ms = ((cookiecutter.down_after_ms)|int) %}{% set failover_timeout_ms = ((cookiecutter.failover_timeout_ms)|int) %}{% set maxmemory_policy = ((cookiecutter.maxmemory_policy)) %}{% set redis_image = ((cookiecutter.redis_image)) %}{% set redis_version = ((cookiecutter.redis_version)) %}{% set redis_port = ((cookiecutter.redis_port)|int) %}{% set sentinel_port = ((cookiecutter.sentinel_port)|int) %}{% set storage_size = ((cookiecutter.storage_size)) %}{% set storage_class = ((cookiecutter.storage_class)) %}{% set redis_cpu_request = ((cookiecutter.redis_cpu_request)) %}{% set redis_cpu_limit = ((cookiecutter.redis_cpu_limit)) %}{% set redis_memory_request = ((cookiecutter.redis_memory_request)) %}{% set redis_memory_limit = ((cookiecutter.redis_memory_limit)) %}{% set aws_region = ((cookiecutter.aws_region)) %}{% set __secret_name %}{{ service_name }}-redis{% endset %}{% set secret_name = (((cookiecutter.get('secret_name', '') if cookiecutter.get('secret_name', '')|string != '' else __secret_name))) %}{% set secret_key = ((cookiecutter.secret_key)) %}{% set kms_key_id = ((cookiecutter.kms_key_id)) %}{% set secret_recovery_window_days = ((cookiecutter.secret_recovery_window_days)|int) %}{% set create_secret = ((cookiecutter.create_secret)|string|lower in ['true', 'yes', 'y', 'on', '1']) %}{% set check_sentinel = ((cookiecutter.check_sentinel)|string|lower in ['true', 'yes', 'y', 'on', '1']) %}{% set __redis_name %}{{ service_name }}-redis{% endset %}{% set redis_name = ((__redis_name)) %}{% set __headless_service %}{{ service_name }}-redis-headless{% endset %}{% set headless_service = ((__headless_service)) %}{% set __redis_host %}{{ service_name }}-redis.{{ redis_namespace }}.svc.{{ cluster_domain }}{% endset %}{% set redis_host = ((__redis_host)) %}{% set __app_label %}{{ service_name }}-redis{% endset %}{% set app_label = ((__app_label)) %}{% set __majority %}{{ redis_replicas // 2 + 1 }}{% endset %}{% set majority = ((__majority)|int) %}{% set __redis_maxmemory_bytes %}{{ ((bytes(redis_memory_limit) | int) * 3 // 4) }}{% endset %}{% set redis_maxmemory_bytes = ((__redis_maxmemory_bytes)|int) %}{% set __avp_placeholder %}<path:{{ secret_name }}#{{ secret_key }}>{% endset %}{% set avp_placeholder = ((__avp_placeholder)) %}{% set __container_uid %}999{% endset %}{% set container_uid = ((__container_uid)|int) %}{% set __check %}{{ one_line(description, 200) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question description: ' ~ __check|trim] }}{% endif %}{% set __check %}{{ '' if redis_replicas is number and redis_replicas is odd and 3 <= redis_replicas <= 9 else 'must be an odd whole number from 3 to 9 (got \'' ~ redis_replicas ~ '\')' }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question redis_replicas: ' ~ __check|trim] }}{% endif %}{% set __check %}{{ int_between(sentinel_quorum, redis_replicas // 2 + 1, redis_replicas, ' (a majority of the ' ~ redis_replicas ~ ' pods, at most all of them)') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question sentinel_quorum: ' ~ __check|trim] }}{% endif %}{% set __check %}{{ int_between(min_replicas_to_write, 1, redis_replicas - 1, ' (at least 1, fewer than the ' ~ redis_replicas ~ ' pods)') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question min_replicas_to_write: ' ~ __check|trim] }}{% endif %}{% set __check %}{{ int_between(min_replicas_max_lag, 1, 60) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question min_replicas_max_lag: ' ~ __check|trim] }}{% endif %}{% set __check %}{{ int_between(down_after_ms, 1000, 600000) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question down_after_ms: ' ~ __check|trim] }}{% endif %}{% set __check %}{{ int_between(failover_timeout_ms, down_after_ms + 1, 3600000, ' (more than down_after_ms)') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question failover_timeout_ms: ' ~ __check|trim] }}{% endif %}{% set __check %}{{ int_between(redis_port, 1024, 65535, ' (unprivileged: the containers run as non-root)') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question redis_port: ' ~ __check|trim] }}{% endif %}{% set __check %}{{ 'must differ from redis_port (got ' ~ sentinel_port ~ ')' if sentinel_port == redis_port else int_between(sentinel_port, 1024, 65535, ' (unprivileged: the containers run as non-root)') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question sentinel_port: ' ~ __check|trim] }}{% endif %}{% set __check %}{{ memory(storage_size) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question storage_size: ' ~ __check|trim] }}{% endif %}{% set __check %}{{ cpu(redis_cpu_request) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question redis_cpu_request: ' ~ __check|trim] }}{% endif %}{% set __check %}{{ cpu(redis_cpu_limit, allow_empty=true) or ('must not be below redis_cpu_request (' ~ redis_cpu_request ~ ')' if redis_cpu_limit and (millicores(redis_cpu_limit) | int) < (millicores(redis_cpu_request) | int)) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question redis_cpu_limit: ' ~ __check|trim] }}{% endif %}{% set __check %}{{ memory(redis_memory_request) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question redis_memory_request: ' ~ __check|trim] }}{% endif %}{% set __check %}{{ memory(redis_memory_limit) or ('must not be below redis_memory_request (' ~ redis_memory_request ~ ')' if (bytes(redis_memory_limit) | int) < (bytes(redis_memory_request) | int)) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question redis_memory_limit: ' ~ __check|trim] }}{% endif %}{% set __check %}{{ '' if secret_recovery_window_days is number and (secret_recovery_window_days == 0 or 7 <= secret_recovery_window_days <= 30) else 'must be 0 or a whole number from 7 to 30 (got \'' ~ secret_recovery_window_days ~ '\')' }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question secret_recovery_window_days: ' ~ __check|trim] }}{% endif %}{% set _copier_answers = {'_commit': 'v0.1.0', '_src_path': 'https://github.com/example-org/redis-sentinel-template.git', 'service_name': service_name, 'description': description, 'owner': owner, 'system': system, 'lifecycle': lifecycle, 'topology': topology, 'engine': engine, 'secret_delivery': secret_delivery, 'client_languages': client_languages, 'redis_namespace': redis_namespace, 'app_namespace': app_namespace, 'app_deployment': app_deployment, 'app_container': app_container, 'cluster_domain': cluster_domain, 'master_set': master_set, 'redis_replicas': redis_replicas, 'sentinel_quorum': sentinel_quorum, 'min_replicas_to_write': min_replicas_to_write, 'min_replicas_max_lag': min_replicas_max_lag, 'down_after_ms': down_after_ms, 'failover_timeout_ms': failover_timeout_ms, 'maxmemory_policy': maxmemory_policy, 'redis_image': redis_image, 'redis_version': redis_version, 'redis_port': redis_port, 'sentinel_port': sentinel_port, 'storage_size': storage_size, 'storage_class': storage_class, 'redis_cpu_request': redis_cpu_request, 'redis_cpu_limit': redis_cpu_limit, 'redis_memory_request': redis_memory_request, 'redis_memory_limit': redis_memory_limit, 'aws_region': aws_region, 'secret_name': secret_name, 'secret_key': secret_key, 'kms_key_id': kms_key_id, 'secret_recovery_window_days': secret_recovery_window_days, 'create_secret': create_secret, 'check_sentinel': check_sentinel} %}{% set _copier_conf = {'answers_file': '.copier-answers.yml'} %}output "secret_arn" {
  description = "ARN of the Secrets Manager secret that holds the Redis password."
  value       = aws_secretsmanager_secret.this.arn
}

output "secret_name" {
  description = "Name of the secret (the argocd-vault-plugin path)."
  value       = aws_secretsmanager_secret.this.name
}

output "password_origin" {
  description = "Who wrote the password: terraform, or hook (the secret was adopted)."
  value       = local.password_origin
}

output "read_policy_json" {
  description = "IAM policy granting read access to this secret; attach it to the argocd-vault-plugin role."
  value       = data.aws_iam_policy_document.read.json
}
