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

{#- A release tag MAJOR.MINOR.PATCH[-variant] at or above (major, minor) of `engine`. -#}
{%- macro release_at_least(value, floor, engine) -%}
{%- set parts = value.split('-')[0].split('.') -%}
{%- if parts | length != 3 or not (parts[0].isdigit() and parts[1].isdigit()) or (parts[0] | int, parts[1] | int) < floor -%}
must be a {{ engine }} release of at least {{ floor | join('.') }} (got '{{ value }}')
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

{#- The IAM OIDC provider of the cluster, which a generated SecretStore's role trusts:
    needed when secret_store is empty, refused when it names a ClusterSecretStore. -#}
{%- macro iam_oidc_provider(value, cluster_store) -%}
{%- set arn = value.split(':') if value is string else [] -%}
{%- if cluster_store and value -%}
must be empty when secret_store names a ClusterSecretStore ('{{ cluster_store }}' reads the secret with the platform's own identity) (got '{{ value }}')
{%- elif not cluster_store and not (arn | length == 6 and arn[0] == 'arn' and arn[1][:3] == 'aws' and arn[2] == 'iam' and arn[3] == ''
    and arn[4] | length == 12 and arn[4].isascii() and arn[4].isdigit()
    and arn[5][:14] == 'oidc-provider/' and arn[5] | length > 14 and ' ' not in value) -%}
must be the ARN of the cluster's IAM OIDC provider, arn:aws:iam::ACCOUNT:oidc-provider/ISSUER, when secret_store is empty (a SecretStore and the role it assumes are generated) (got '{{ value }}')
{%- endif -%}
{%- endmacro -%}

{#- ElastiCache (topology: elasticache). The engine versions ElastiCache offers that allow
    IAM authentication (Redis OSS 7.0+, Valkey 7.2+), oldest first; the last is the default. -#}
{%- set CACHE_ENGINE_VERSIONS = {'redis': ['7.0', '7.1'], 'valkey': ['7.2', '8.0', '8.1']} -%}

{%- macro elasticache_version(value, engine) -%}
{%- if value not in CACHE_ENGINE_VERSIONS[engine] -%}
must be a {{ engine }} version ElastiCache offers with IAM authentication: {{ CACHE_ENGINE_VERSIONS[engine] | join(', ') }} (got '{{ value }}')
{%- endif -%}
{%- endmacro -%}

{#- Node type families ElastiCache offers for Redis OSS and Valkey (current generations),
    with the sizes each family has. -#}
{%- set _burstable = ['micro', 'small', 'medium'] -%}
{%- set _sized = ['large', 'xlarge', '2xlarge', '4xlarge', '8xlarge', '12xlarge', '16xlarge', '24xlarge'] -%}
{%- set CACHE_NODE_FAMILIES = {
  't4g': _burstable, 't3': _burstable,
  'm7g': _sized, 'm6g': _sized, 'm5': _sized,
  'r7g': _sized, 'r6g': _sized, 'r6gd': _sized, 'r5': _sized,
} -%}

{%- macro elasticache_node_type(value) -%}
{%- set parts = value.split('.') if value is string else [] -%}
{%- if not (parts | length == 3 and parts[0] == 'cache' and parts[1] in CACHE_NODE_FAMILIES and parts[2] in CACHE_NODE_FAMILIES[parts[1]]) -%}
must be an ElastiCache node type cache.FAMILY.SIZE of a current family ({{ CACHE_NODE_FAMILIES | join(', ') }}) and one of its sizes, such as cache.r7g.large (got '{{ value }}')
{%- endif -%}
{%- endmacro -%}

{#- The Redis Cluster bus port (cluster-port): unprivileged, and not the client port. -#}
{%- macro bus_port(value, redis_port) -%}
{%- if value is number and value == redis_port -%}
must differ from redis_port, the client port: the cluster bus needs a port of its own (got '{{ value }}')
{%- elif not (value is number and 1024 <= value <= 65535) -%}
must be a whole number from 1024 to 65535 (by default redis_port + 10000: lower redis_port, or answer another bus port) (got '{{ value }}')
{%- endif -%}
{%- endmacro -%}
{#-
  Size presets: the memory request and limit, the CPU request and the volume size of
  each Redis pod, chosen together by the `size` answer, and the ElastiCache node type of
  about that memory (topology: elasticache). Redis gets a memory request
  equal to its limit (eviction and OOM behaviour stay predictable) and no CPU limit
  (it is single-threaded: throttling adds latency). Keep copier.yml's `size` choices'
  labels in step with this table.
-#}
{%- set SIZES = {
  'small': {'memory': '512Mi', 'cpu': '100m', 'storage': '8Gi', 'node_type': 'cache.t4g.small'},
  'medium': {'memory': '2Gi', 'cpu': '250m', 'storage': '20Gi', 'node_type': 'cache.m7g.large'},
  'large': {'memory': '8Gi', 'cpu': '1', 'storage': '64Gi', 'node_type': 'cache.r7g.large'},
} -%}
{% macro dns_label() %}{% if varargs or kwargs %}{% endif %}{% endmacro %}{% macro dns_subdomain() %}{% if varargs or kwargs %}{% endif %}{% endmacro %}{% macro matches() %}{% if varargs or kwargs %}{% endif %}{% endmacro %}{% set __check = '' %}{% set _ = none %}{% set service_name = ((cookiecutter.service_name)) %}{% set owner = ((cookiecutter.owner)) %}{% set __app_namespace %}{{ service_name }}{% endset %}{% set app_namespace = (((cookiecutter.get('app_namespace', '') if cookiecutter.get('app_namespace', '')|string != '' else __app_namespace))) %}{% set engine = ((cookiecutter.engine)) %}{% set topology = ((cookiecutter.topology)) %}{% set __when_redis_namespace %}{{ topology != 'elasticache' }}{% endset %}{% set __asked_redis_namespace = __when_redis_namespace|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __redis_namespace %}redis{% endset %}{% set redis_namespace = (((cookiecutter.get('redis_namespace', '') if cookiecutter.get('redis_namespace', '')|string != '' else __redis_namespace))) %}{% set __when_secret_delivery %}{{ topology != 'elasticache' }}{% endset %}{% set __asked_secret_delivery = __when_secret_delivery|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __secret_delivery %}argocd-vault-plugin{% endset %}{% set secret_delivery = (((cookiecutter.get('secret_delivery', '') if cookiecutter.get('secret_delivery', '')|string != '' else __secret_delivery))) %}{% set __when_secret_store %}{{ topology != 'elasticache' and secret_delivery == 'external-secrets' }}{% endset %}{% set __asked_secret_store = __when_secret_store|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __secret_store %}{% endset %}{% set secret_store = (((cookiecutter.get('secret_store', '') if cookiecutter.get('secret_store', '')|string != '' else __secret_store))) %}{% set __when_oidc_provider_arn %}{{ topology != 'elasticache' and secret_delivery == 'external-secrets' }}{% endset %}{% set __asked_oidc_provider_arn = __when_oidc_provider_arn|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __oidc_provider_arn %}{% endset %}{% set oidc_provider_arn = (((cookiecutter.get('oidc_provider_arn', '') if cookiecutter.get('oidc_provider_arn', '')|string != '' else __oidc_provider_arn))) %}{% set aws_region = ((cookiecutter.aws_region)) %}{% set __when_vpc_id %}{{ topology == 'elasticache' }}{% endset %}{% set __asked_vpc_id = __when_vpc_id|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __vpc_id %}{% endset %}{% set vpc_id = (((cookiecutter.get('vpc_id', '') if cookiecutter.get('vpc_id', '')|string != '' else __vpc_id))) %}{% set __when_subnet_ids %}{{ topology == 'elasticache' }}{% endset %}{% set __asked_subnet_ids = __when_subnet_ids|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __subnet_ids %}{% endset %}{% set subnet_ids = (((cookiecutter.get('subnet_ids', '') if cookiecutter.get('subnet_ids', '')|string != '' else __subnet_ids))) %}{% set __when_app_security_group_id %}{{ topology == 'elasticache' }}{% endset %}{% set __asked_app_security_group_id = __when_app_security_group_id|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __app_security_group_id %}{% endset %}{% set app_security_group_id = (((cookiecutter.get('app_security_group_id', '') if cookiecutter.get('app_security_group_id', '')|string != '' else __app_security_group_id))) %}{% set __when_client_languages %}{{ topology == 'sentinel' }}{% endset %}{% set __asked_client_languages = __when_client_languages|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __client_languages %}python{% endset %}{% set client_languages = (((cookiecutter.get('client_languages', '') if __asked_client_languages else __client_languages)).split(',') if (cookiecutter.get('client_languages', '') if __asked_client_languages else __client_languages) else []) %}{% set size = ((cookiecutter.size)) %}{% set customise = ((cookiecutter.customise)|string|lower in ['true', 'yes', 'y', 'on', '1']) %}{% set __when_description %}{{ customise }}{% endset %}{% set __asked_description = __when_description|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __description %}{{ 'Valkey' if engine == 'valkey' else 'Redis' }} {{ {'sentinel': 'Sentinel', 'cluster': 'Cluster', 'elasticache': 'on ElastiCache'}[topology] }} for the {{ service_name }} service{% endset %}{% set description = (((cookiecutter.get('description', '') if cookiecutter.get('description', '')|string != '' else __description))) %}{% set __when_system %}{{ customise }}{% endset %}{% set __asked_system = __when_system|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __system %}{{ service_name }}{% endset %}{% set system = (((cookiecutter.get('system', '') if cookiecutter.get('system', '')|string != '' else __system))) %}{% set __when_lifecycle %}{{ customise }}{% endset %}{% set __asked_lifecycle = __when_lifecycle|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __lifecycle %}production{% endset %}{% set lifecycle = (((cookiecutter.get('lifecycle', '') if cookiecutter.get('lifecycle', '')|string != '' else __lifecycle))) %}{% set __when_app_deployment %}{{ customise }}{% endset %}{% set __asked_app_deployment = __when_app_deployment|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __app_deployment %}{{ service_name }}{% endset %}{% set app_deployment = (((cookiecutter.get('app_deployment', '') if cookiecutter.get('app_deployment', '')|string != '' else __app_deployment))) %}{% set __when_app_container %}{{ customise }}{% endset %}{% set __asked_app_container = __when_app_container|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __app_container %}{{ app_deployment }}{% endset %}{% set app_container = (((cookiecutter.get('app_container', '') if cookiecutter.get('app_container', '')|string != '' else __app_container))) %}{% set __when_cluster_domain %}{{ customise and topology != 'elasticache' }}{% endset %}{% set __asked_cluster_domain = __when_cluster_domain|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __cluster_domain %}cluster.local{% endset %}{% set cluster_domain = (((cookiecutter.get('cluster_domain', '') if cookiecutter.get('cluster_domain', '')|string != '' else __cluster_domain))) %}{% set __when_master_set %}{{ customise and topology == 'sentinel' }}{% endset %}{% set __asked_master_set = __when_master_set|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __master_set %}{{ service_name }}-redis{% endset %}{% set master_set = (((cookiecutter.get('master_set', '') if cookiecutter.get('master_set', '')|string != '' else __master_set))) %}{% set __when_redis_replicas %}{{ customise and topology == 'sentinel' }}{% endset %}{% set __asked_redis_replicas = __when_redis_replicas|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __redis_replicas %}3{% endset %}{% set redis_replicas = (((cookiecutter.get('redis_replicas', '') if cookiecutter.get('redis_replicas', '')|string != '' else __redis_replicas))|int) %}{% set __majority %}{{ redis_replicas // 2 + 1 }}{% endset %}{% set majority = ((__majority)|int) %}{% set __when_sentinel_quorum %}{{ customise and topology == 'sentinel' }}{% endset %}{% set __asked_sentinel_quorum = __when_sentinel_quorum|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __sentinel_quorum %}{{ majority }}{% endset %}{% set sentinel_quorum = (((cookiecutter.get('sentinel_quorum', '') if cookiecutter.get('sentinel_quorum', '')|string != '' else __sentinel_quorum))|int) %}{% set __when_min_replicas_to_write %}{{ customise and topology == 'sentinel' }}{% endset %}{% set __asked_min_replicas_to_write = __when_min_replicas_to_write|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __min_replicas_to_write %}1{% endset %}{% set min_replicas_to_write = (((cookiecutter.get('min_replicas_to_write', '') if cookiecutter.get('min_replicas_to_write', '')|string != '' else __min_replicas_to_write))|int) %}{% set __when_min_replicas_max_lag %}{{ customise and topology == 'sentinel' }}{% endset %}{% set __asked_min_replicas_max_lag = __when_min_replicas_max_lag|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __min_replicas_max_lag %}2{% endset %}{% set min_replicas_max_lag = (((cookiecutter.get('min_replicas_max_lag', '') if cookiecutter.get('min_replicas_max_lag', '')|string != '' else __min_replicas_max_lag))|int) %}{% set __when_down_after_ms %}{{ customise and topology == 'sentinel' }}{% endset %}{% set __asked_down_after_ms = __when_down_after_ms|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __down_after_ms %}10000{% endset %}{% set down_after_ms = (((cookiecutter.get('down_after_ms', '') if cookiecutter.get('down_after_ms', '')|string != '' else __down_after_ms))|int) %}{% set __when_failover_timeout_ms %}{{ customise and topology == 'sentinel' }}{% endset %}{% set __asked_failover_timeout_ms = __when_failover_timeout_ms|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __failover_timeout_ms %}180000{% endset %}{% set failover_timeout_ms = (((cookiecutter.get('failover_timeout_ms', '') if cookiecutter.get('failover_timeout_ms', '')|string != '' else __failover_timeout_ms))|int) %}{% set __when_cluster_masters %}{{ customise and topology == 'cluster' }}{% endset %}{% set __asked_cluster_masters = __when_cluster_masters|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __cluster_masters %}3{% endset %}{% set cluster_masters = (((cookiecutter.get('cluster_masters', '') if cookiecutter.get('cluster_masters', '')|string != '' else __cluster_masters))|int) %}{% set __when_cluster_replicas %}{{ customise and topology == 'cluster' }}{% endset %}{% set __asked_cluster_replicas = __when_cluster_replicas|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __cluster_replicas %}1{% endset %}{% set cluster_replicas = (((cookiecutter.get('cluster_replicas', '') if cookiecutter.get('cluster_replicas', '')|string != '' else __cluster_replicas))|int) %}{% set __when_cluster_node_timeout_ms %}{{ customise and topology == 'cluster' }}{% endset %}{% set __asked_cluster_node_timeout_ms = __when_cluster_node_timeout_ms|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __cluster_node_timeout_ms %}15000{% endset %}{% set cluster_node_timeout_ms = (((cookiecutter.get('cluster_node_timeout_ms', '') if cookiecutter.get('cluster_node_timeout_ms', '')|string != '' else __cluster_node_timeout_ms))|int) %}{% set __when_maxmemory_policy %}{{ customise and topology != 'elasticache' }}{% endset %}{% set __asked_maxmemory_policy = __when_maxmemory_policy|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __maxmemory_policy %}noeviction{% endset %}{% set maxmemory_policy = (((cookiecutter.get('maxmemory_policy', '') if cookiecutter.get('maxmemory_policy', '')|string != '' else __maxmemory_policy))) %}{% set __when_redis_image %}{{ customise and topology != 'elasticache' }}{% endset %}{% set __asked_redis_image = __when_redis_image|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __redis_image %}{{ 'valkey/valkey' if engine == 'valkey' else 'redis' }}{% endset %}{% set redis_image = (((cookiecutter.get('redis_image', '') if cookiecutter.get('redis_image', '')|string != '' else __redis_image))) %}{% set __when_redis_version %}{{ customise and topology != 'elasticache' }}{% endset %}{% set __asked_redis_version = __when_redis_version|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __redis_version %}{{ '9.1.2' if engine == 'valkey' else '7.4.6' }}{% endset %}{% set redis_version = (((cookiecutter.get('redis_version', '') if cookiecutter.get('redis_version', '')|string != '' else __redis_version))) %}{% set __when_redis_image_digest %}{{ customise and topology != 'elasticache' }}{% endset %}{% set __asked_redis_image_digest = __when_redis_image_digest|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __redis_image_digest %}{% endset %}{% set redis_image_digest = (((cookiecutter.get('redis_image_digest', '') if cookiecutter.get('redis_image_digest', '')|string != '' else __redis_image_digest))) %}{% set __when_redis_port %}{{ customise }}{% endset %}{% set __asked_redis_port = __when_redis_port|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __redis_port %}6379{% endset %}{% set redis_port = (((cookiecutter.get('redis_port', '') if cookiecutter.get('redis_port', '')|string != '' else __redis_port))|int) %}{% set __when_sentinel_port %}{{ customise and topology == 'sentinel' }}{% endset %}{% set __asked_sentinel_port = __when_sentinel_port|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __sentinel_port %}26379{% endset %}{% set sentinel_port = (((cookiecutter.get('sentinel_port', '') if cookiecutter.get('sentinel_port', '')|string != '' else __sentinel_port))|int) %}{% set __when_cluster_bus_port %}{{ customise and topology == 'cluster' }}{% endset %}{% set __asked_cluster_bus_port = __when_cluster_bus_port|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __cluster_bus_port %}{{ redis_port + 10000 }}{% endset %}{% set cluster_bus_port = (((cookiecutter.get('cluster_bus_port', '') if cookiecutter.get('cluster_bus_port', '')|string != '' else __cluster_bus_port))|int) %}{% set __when_storage_size %}{{ customise and topology != 'elasticache' }}{% endset %}{% set __asked_storage_size = __when_storage_size|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __storage_size %}{{ SIZES[size].storage }}{% endset %}{% set storage_size = (((cookiecutter.get('storage_size', '') if cookiecutter.get('storage_size', '')|string != '' else __storage_size))) %}{% set __when_storage_class %}{{ customise and topology != 'elasticache' }}{% endset %}{% set __asked_storage_class = __when_storage_class|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __storage_class %}{% endset %}{% set storage_class = (((cookiecutter.get('storage_class', '') if cookiecutter.get('storage_class', '')|string != '' else __storage_class))) %}{% set __when_redis_cpu_request %}{{ customise and topology != 'elasticache' }}{% endset %}{% set __asked_redis_cpu_request = __when_redis_cpu_request|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __redis_cpu_request %}{{ SIZES[size].cpu }}{% endset %}{% set redis_cpu_request = (((cookiecutter.get('redis_cpu_request', '') if cookiecutter.get('redis_cpu_request', '')|string != '' else __redis_cpu_request))) %}{% set __when_redis_cpu_limit %}{{ customise and topology != 'elasticache' }}{% endset %}{% set __asked_redis_cpu_limit = __when_redis_cpu_limit|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __redis_cpu_limit %}{% endset %}{% set redis_cpu_limit = (((cookiecutter.get('redis_cpu_limit', '') if cookiecutter.get('redis_cpu_limit', '')|string != '' else __redis_cpu_limit))) %}{% set __when_redis_memory_request %}{{ customise and topology != 'elasticache' }}{% endset %}{% set __asked_redis_memory_request = __when_redis_memory_request|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __redis_memory_request %}{{ SIZES[size].memory }}{% endset %}{% set redis_memory_request = (((cookiecutter.get('redis_memory_request', '') if cookiecutter.get('redis_memory_request', '')|string != '' else __redis_memory_request))) %}{% set __when_redis_memory_limit %}{{ customise and topology != 'elasticache' }}{% endset %}{% set __asked_redis_memory_limit = __when_redis_memory_limit|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __redis_memory_limit %}{{ SIZES[size].memory }}{% endset %}{% set redis_memory_limit = (((cookiecutter.get('redis_memory_limit', '') if cookiecutter.get('redis_memory_limit', '')|string != '' else __redis_memory_limit))) %}{% set __when_secret_name %}{{ customise and topology != 'elasticache' }}{% endset %}{% set __asked_secret_name = __when_secret_name|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __secret_name %}{{ service_name }}-redis{% endset %}{% set secret_name = (((cookiecutter.get('secret_name', '') if cookiecutter.get('secret_name', '')|string != '' else __secret_name))) %}{% set __when_secret_key %}{{ customise and topology != 'elasticache' }}{% endset %}{% set __asked_secret_key = __when_secret_key|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __secret_key %}db-password{% endset %}{% set secret_key = (((cookiecutter.get('secret_key', '') if cookiecutter.get('secret_key', '')|string != '' else __secret_key))) %}{% set __when_kms_key_id %}{{ customise }}{% endset %}{% set __asked_kms_key_id = __when_kms_key_id|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __kms_key_id %}{% endset %}{% set kms_key_id = (((cookiecutter.get('kms_key_id', '') if cookiecutter.get('kms_key_id', '')|string != '' else __kms_key_id))) %}{% set __when_secret_recovery_window_days %}{{ customise and topology != 'elasticache' }}{% endset %}{% set __asked_secret_recovery_window_days = __when_secret_recovery_window_days|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __secret_recovery_window_days %}7{% endset %}{% set secret_recovery_window_days = (((cookiecutter.get('secret_recovery_window_days', '') if cookiecutter.get('secret_recovery_window_days', '')|string != '' else __secret_recovery_window_days))|int) %}{% set __when_node_type %}{{ customise and topology == 'elasticache' }}{% endset %}{% set __asked_node_type = __when_node_type|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __node_type %}{{ SIZES[size].node_type }}{% endset %}{% set node_type = (((cookiecutter.get('node_type', '') if cookiecutter.get('node_type', '')|string != '' else __node_type))) %}{% set __when_cache_engine_version %}{{ customise and topology == 'elasticache' }}{% endset %}{% set __asked_cache_engine_version = __when_cache_engine_version|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __cache_engine_version %}{{ CACHE_ENGINE_VERSIONS[engine][-1] }}{% endset %}{% set cache_engine_version = (((cookiecutter.get('cache_engine_version', '') if cookiecutter.get('cache_engine_version', '')|string != '' else __cache_engine_version))) %}{% set __when_cache_replicas %}{{ customise and topology == 'elasticache' }}{% endset %}{% set __asked_cache_replicas = __when_cache_replicas|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __cache_replicas %}2{% endset %}{% set cache_replicas = (((cookiecutter.get('cache_replicas', '') if cookiecutter.get('cache_replicas', '')|string != '' else __cache_replicas))|int) %}{% set __when_snapshot_retention_days %}{{ customise and topology == 'elasticache' }}{% endset %}{% set __asked_snapshot_retention_days = __when_snapshot_retention_days|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __snapshot_retention_days %}7{% endset %}{% set snapshot_retention_days = (((cookiecutter.get('snapshot_retention_days', '') if cookiecutter.get('snapshot_retention_days', '')|string != '' else __snapshot_retention_days))|int) %}{% set __when_create_secret %}{{ topology != 'elasticache' }}{% endset %}{% set __asked_create_secret = __when_create_secret|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __create_secret %}False{% endset %}{% set create_secret = (((cookiecutter.get('create_secret', '') if cookiecutter.get('create_secret', '')|string != '' else __create_secret))|string|lower in ['true', 'yes', 'y', 'on', '1']) %}{% set __when_check_sentinel %}{{ topology == 'sentinel' }}{% endset %}{% set __asked_check_sentinel = __when_check_sentinel|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __check_sentinel %}False{% endset %}{% set check_sentinel = (((cookiecutter.get('check_sentinel', '') if cookiecutter.get('check_sentinel', '')|string != '' else __check_sentinel))|string|lower in ['true', 'yes', 'y', 'on', '1']) %}{% set __when_check_elasticache %}{{ topology == 'elasticache' }}{% endset %}{% set __asked_check_elasticache = __when_check_elasticache|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __check_elasticache %}False{% endset %}{% set check_elasticache = (((cookiecutter.get('check_elasticache', '') if cookiecutter.get('check_elasticache', '')|string != '' else __check_elasticache))|string|lower in ['true', 'yes', 'y', 'on', '1']) %}{% set __engine_name %}{{ 'Valkey' if engine == 'valkey' else 'Redis' }}{% endset %}{% set engine_name = ((__engine_name)) %}{% set __topology_name %}{{ {'sentinel': 'Sentinel', 'cluster': 'Cluster', 'elasticache': 'on ElastiCache'}[topology] }}{% endset %}{% set topology_name = ((__topology_name)) %}{% set __image_ref %}{{ redis_image }}:{{ redis_version }}{{ '@' ~ redis_image_digest if redis_image_digest }}{% endset %}{% set image_ref = ((__image_ref)) %}{% set __cluster_pods %}{{ cluster_masters * (cluster_replicas + 1) }}{% endset %}{% set cluster_pods = ((__cluster_pods)|int) %}{% set __cluster_peer_hosts %}{% for i in range(cluster_pods) %}{{ service_name }}-redis-{{ i }}.{{ service_name }}-redis-headless.{{ redis_namespace }}.svc.{{ cluster_domain }}{{ ' ' if not loop.last else '' }}{% endfor %}{% endset %}{% set cluster_peer_hosts = ((__cluster_peer_hosts)) %}{% set __redis_name %}{{ service_name }}-redis{% endset %}{% set redis_name = ((__redis_name)) %}{% set __headless_service %}{{ service_name }}-redis-headless{% endset %}{% set headless_service = ((__headless_service)) %}{% set __redis_host %}{{ service_name }}-redis.{{ redis_namespace }}.svc.{{ cluster_domain }}{% endset %}{% set redis_host = ((__redis_host)) %}{% set __app_label %}{{ service_name }}-redis{% endset %}{% set app_label = ((__app_label)) %}{% set __redis_maxmemory_bytes %}{{ ((bytes(redis_memory_limit) | int) * 3 // 4) }}{% endset %}{% set redis_maxmemory_bytes = ((__redis_maxmemory_bytes)|int) %}{% set __avp_placeholder %}<path:{{ secret_name }}#{{ secret_key }}>{% endset %}{% set avp_placeholder = ((__avp_placeholder)) %}{% set __secret_store_kind %}{{ 'ClusterSecretStore' if secret_store else 'SecretStore' }}{% endset %}{% set secret_store_kind = ((__secret_store_kind)) %}{% set __secret_store_name %}{{ secret_store or service_name ~ '-redis' }}{% endset %}{% set secret_store_name = ((__secret_store_name)) %}{% set __secret_reader %}{{ service_name }}-redis-secret-reader{% endset %}{% set secret_reader = ((__secret_reader)) %}{% set __reader_role_name %}{{ service_name }}-redis-reader-{{ aws_region }}{% endset %}{% set reader_role_name = ((__reader_role_name)) %}{% set __reader_role_arn %}{% set arn = oidc_provider_arn.split(':') %}{{ 'arn:' ~ arn[1] ~ ':iam::' ~ arn[4] ~ ':role/' ~ reader_role_name if arn | length == 6 else '' }}{% endset %}{% set reader_role_arn = ((__reader_role_arn)) %}{% set __cache_user_id %}{{ service_name }}-app{% endset %}{% set cache_user_id = ((__cache_user_id)) %}{% set __cache_default_user_id %}{{ service_name }}-default-off{% endset %}{% set cache_default_user_id = ((__cache_default_user_id)) %}{% set __cache_subnet_list %}{{ subnet_ids.split(',') | tojson }}{% endset %}{% set cache_subnet_list = ((__cache_subnet_list)) %}{% set __container_uid %}10001{% endset %}{% set container_uid = ((__container_uid)|int) %}{% set __check %}{{ dns_label(service_name, 30) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question service_name: ' ~ __check|trim] }}{% endif %}{% set __check %}{{ matches(owner, '^((group|user):)?([a-z0-9]([-a-z0-9]*[a-z0-9])?/)?[A-Za-z0-9]([-_.A-Za-z0-9]{0,61}[A-Za-z0-9])?$', 'must be a Backstage owner reference [group:|user:][namespace/]name, the name of 1 to 63 letters, digits, - _ or .') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question owner: ' ~ __check|trim] }}{% endif %}{% set __check %}{{ dns_label(app_namespace) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question app_namespace: ' ~ __check|trim] }}{% endif %}{% if __asked_redis_namespace %}{% set __check %}{{ dns_label(redis_namespace) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question redis_namespace: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_secret_store %}{% set __check %}{{ dns_subdomain(secret_store, allow_empty=true) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question secret_store: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_oidc_provider_arn %}{% set __check %}{{ iam_oidc_provider(oidc_provider_arn, secret_store) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question oidc_provider_arn: ' ~ __check|trim] }}{% endif %}{% endif %}{% set __check %}{{ matches(aws_region, '^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$', 'must be an AWS region code such as eu-west-1') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question aws_region: ' ~ __check|trim] }}{% endif %}{% if __asked_vpc_id %}{% set __check %}{{ matches(vpc_id, '^vpc-([0-9a-f]{8}|[0-9a-f]{17})$', 'must be a VPC id, vpc- and 8 or 17 lowercase hex digits') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question vpc_id: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_subnet_ids %}{% set __check %}{{ matches(subnet_ids, '^subnet-([0-9a-f]{8}|[0-9a-f]{17})(,subnet-([0-9a-f]{8}|[0-9a-f]{17}))+$', 'must be at least two subnet ids (subnet- and 8 or 17 lowercase hex digits), comma-separated without spaces') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question subnet_ids: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_app_security_group_id %}{% set __check %}{{ matches(app_security_group_id, '^sg-([0-9a-f]{8}|[0-9a-f]{17})$', 'must be a security group id, sg- and 8 or 17 lowercase hex digits') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question app_security_group_id: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_description %}{% set __check %}{{ one_line(description, 200) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question description: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_system %}{% set __check %}{{ matches(system, '^[A-Za-z0-9]([-_.A-Za-z0-9]{0,61}[A-Za-z0-9])?$', 'must be a Backstage entity name: 1 to 63 letters, digits, - _ or ., starting and ending with a letter or digit') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question system: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_app_deployment %}{% set __check %}{{ dns_subdomain(app_deployment) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question app_deployment: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_app_container %}{% set __check %}{{ dns_label(app_container) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question app_container: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_cluster_domain %}{% set __check %}{{ dns_subdomain(cluster_domain) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question cluster_domain: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_master_set %}{% set __check %}{{ matches(master_set, '^[A-Za-z0-9][-_.A-Za-z0-9]{0,62}$', 'must be 1 to 63 letters, digits, - _ or ., starting with a letter or digit') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question master_set: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_redis_replicas %}{% set __check %}{{ '' if redis_replicas is number and redis_replicas is odd and 3 <= redis_replicas <= 9 else 'must be an odd whole number from 3 to 9 (got \'' ~ redis_replicas ~ '\')' }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question redis_replicas: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_sentinel_quorum %}{% set __check %}{{ int_between(sentinel_quorum, majority, redis_replicas, ' (a majority of the ' ~ redis_replicas ~ ' pods, at most all of them)') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question sentinel_quorum: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_min_replicas_to_write %}{% set __check %}{{ int_between(min_replicas_to_write, 1, redis_replicas - 1, ' (at least 1, fewer than the ' ~ redis_replicas ~ ' pods)') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question min_replicas_to_write: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_min_replicas_max_lag %}{% set __check %}{{ int_between(min_replicas_max_lag, 1, 60) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question min_replicas_max_lag: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_down_after_ms %}{% set __check %}{{ int_between(down_after_ms, 1000, 600000) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question down_after_ms: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_failover_timeout_ms %}{% set __check %}{{ int_between(failover_timeout_ms, down_after_ms + 1, 3600000, ' (more than down_after_ms)') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question failover_timeout_ms: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_cluster_masters %}{% set __check %}{{ int_between(cluster_masters, 3, 12, ' (a majority of masters must survive the loss of one to fail it over)') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question cluster_masters: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_cluster_replicas %}{% set __check %}{{ int_between(cluster_replicas, 1, 3, ' (at least 1, so that losing any one pod never loses a slot)') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question cluster_replicas: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_cluster_node_timeout_ms %}{% set __check %}{{ int_between(cluster_node_timeout_ms, 1000, 600000) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question cluster_node_timeout_ms: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_redis_image %}{% set __check %}{{ 'must not be a Bitnami image: use the engine\'s official image or a mirror of it (got \'' ~ redis_image ~ '\')' if 'bitnami' in redis_image | lower else matches(redis_image, '^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*(:[0-9]+)?/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$', 'must be an image repository without tag or digest, such as redis or registry.example.com/mirror/redis') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question redis_image: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_redis_version %}{% set __check %}{{ matches(redis_version, '^[0-9]+[.][0-9]+[.][0-9]+(-[a-z0-9]+)?$', 'must be a pinned release tag, MAJOR.MINOR.PATCH with an optional -variant, such as 7.4.6-alpine') or release_at_least(redis_version, (7, 2) if engine == 'valkey' else ((7, 0) if topology == 'cluster' else (6, 2)), engine) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question redis_version: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_redis_image_digest %}{% set __check %}{{ matches(redis_image_digest, '^sha256:[a-f0-9]{64}$', 'must be an image digest: sha256: followed by 64 lowercase hex digits', allow_empty=true) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question redis_image_digest: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_redis_port %}{% set __check %}{{ int_between(redis_port, 1024, 65535, ' (unprivileged: the containers run as non-root)') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question redis_port: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_sentinel_port %}{% set __check %}{{ 'must differ from redis_port (got ' ~ sentinel_port ~ ')' if sentinel_port == redis_port else int_between(sentinel_port, 1024, 65535, ' (unprivileged: the containers run as non-root)') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question sentinel_port: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_cluster_bus_port %}{% set __check %}{{ bus_port(cluster_bus_port, redis_port) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question cluster_bus_port: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_storage_size %}{% set __check %}{{ memory(storage_size) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question storage_size: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_storage_class %}{% set __check %}{{ dns_subdomain(storage_class, allow_empty=true) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question storage_class: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_redis_cpu_request %}{% set __check %}{{ cpu(redis_cpu_request) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question redis_cpu_request: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_redis_cpu_limit %}{% set __check %}{{ cpu(redis_cpu_limit, allow_empty=true) or ('must not be below redis_cpu_request (' ~ redis_cpu_request ~ ')' if redis_cpu_limit and (millicores(redis_cpu_limit) | int) < (millicores(redis_cpu_request) | int)) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question redis_cpu_limit: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_redis_memory_request %}{% set __check %}{{ memory(redis_memory_request) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question redis_memory_request: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_redis_memory_limit %}{% set __check %}{{ memory(redis_memory_limit) or ('must not be below redis_memory_request (' ~ redis_memory_request ~ ')' if (bytes(redis_memory_limit) | int) < (bytes(redis_memory_request) | int)) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question redis_memory_limit: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_secret_name %}{% set __check %}{{ matches(secret_name, '^(?!.*-[A-Za-z0-9]{6}$)[A-Za-z0-9/_+=.@-]{1,512}$', 'must be 1 to 512 of A-Z a-z 0-9 / _ + = . @ -, and must not end in a hyphen and six characters (AWS reads that as an ARN suffix)') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question secret_name: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_secret_key %}{% set __check %}{{ matches(secret_key, '^[-._A-Za-z0-9]{1,253}$', 'must be 1 to 253 letters, digits, - _ or . (a valid Kubernetes Secret key)') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question secret_key: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_kms_key_id %}{% set __check %}{{ matches(kms_key_id, '^(arn:aws[-a-z]*:kms:[a-z0-9-]+:[0-9]{12}:(key/[-a-f0-9]{36}|alias/[A-Za-z0-9/_-]+)|[-a-f0-9]{36}|alias/[A-Za-z0-9/_-]+)$', 'must be a KMS key ARN, key id (a UUID), alias/NAME or alias ARN', allow_empty=true) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question kms_key_id: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_secret_recovery_window_days %}{% set __check %}{{ '' if secret_recovery_window_days is number and (secret_recovery_window_days == 0 or 7 <= secret_recovery_window_days <= 30) else 'must be 0 or a whole number from 7 to 30 (got \'' ~ secret_recovery_window_days ~ '\')' }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question secret_recovery_window_days: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_node_type %}{% set __check %}{{ elasticache_node_type(node_type) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question node_type: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_cache_engine_version %}{% set __check %}{{ elasticache_version(cache_engine_version, engine) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question cache_engine_version: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_cache_replicas %}{% set __check %}{{ int_between(cache_replicas, 1, 5) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question cache_replicas: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_snapshot_retention_days %}{% set __check %}{{ int_between(snapshot_retention_days, 0, 35) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question snapshot_retention_days: ' ~ __check|trim] }}{% endif %}{% endif %}{% set _copier_answers = {'_commit': 'v0.3.0', '_src_path': 'https://github.com/example-org/redis-sentinel-template.git', 'service_name': service_name, 'owner': owner, 'app_namespace': app_namespace, 'engine': engine, 'topology': topology, 'aws_region': aws_region, 'size': size, 'customise': customise} %}{% if __asked_redis_namespace %}{% set _ = _copier_answers.update({'redis_namespace': redis_namespace}) %}{% endif %}{% if __asked_secret_delivery %}{% set _ = _copier_answers.update({'secret_delivery': secret_delivery}) %}{% endif %}{% if __asked_secret_store %}{% set _ = _copier_answers.update({'secret_store': secret_store}) %}{% endif %}{% if __asked_oidc_provider_arn %}{% set _ = _copier_answers.update({'oidc_provider_arn': oidc_provider_arn}) %}{% endif %}{% if __asked_vpc_id %}{% set _ = _copier_answers.update({'vpc_id': vpc_id}) %}{% endif %}{% if __asked_subnet_ids %}{% set _ = _copier_answers.update({'subnet_ids': subnet_ids}) %}{% endif %}{% if __asked_app_security_group_id %}{% set _ = _copier_answers.update({'app_security_group_id': app_security_group_id}) %}{% endif %}{% if __asked_client_languages %}{% set _ = _copier_answers.update({'client_languages': client_languages}) %}{% endif %}{% if __asked_description %}{% set _ = _copier_answers.update({'description': description}) %}{% endif %}{% if __asked_system %}{% set _ = _copier_answers.update({'system': system}) %}{% endif %}{% if __asked_lifecycle %}{% set _ = _copier_answers.update({'lifecycle': lifecycle}) %}{% endif %}{% if __asked_app_deployment %}{% set _ = _copier_answers.update({'app_deployment': app_deployment}) %}{% endif %}{% if __asked_app_container %}{% set _ = _copier_answers.update({'app_container': app_container}) %}{% endif %}{% if __asked_cluster_domain %}{% set _ = _copier_answers.update({'cluster_domain': cluster_domain}) %}{% endif %}{% if __asked_master_set %}{% set _ = _copier_answers.update({'master_set': master_set}) %}{% endif %}{% if __asked_redis_replicas %}{% set _ = _copier_answers.update({'redis_replicas': redis_replicas}) %}{% endif %}{% if __asked_sentinel_quorum %}{% set _ = _copier_answers.update({'sentinel_quorum': sentinel_quorum}) %}{% endif %}{% if __asked_min_replicas_to_write %}{% set _ = _copier_answers.update({'min_replicas_to_write': min_replicas_to_write}) %}{% endif %}{% if __asked_min_replicas_max_lag %}{% set _ = _copier_answers.update({'min_replicas_max_lag': min_replicas_max_lag}) %}{% endif %}{% if __asked_down_after_ms %}{% set _ = _copier_answers.update({'down_after_ms': down_after_ms}) %}{% endif %}{% if __asked_failover_timeout_ms %}{% set _ = _copier_answers.update({'failover_timeout_ms': failover_timeout_ms}) %}{% endif %}{% if __asked_cluster_masters %}{% set _ = _copier_answers.update({'cluster_masters': cluster_masters}) %}{% endif %}{% if __asked_cluster_replicas %}{% set _ = _copier_answers.update({'cluster_replicas': cluster_replicas}) %}{% endif %}{% if __asked_cluster_node_timeout_ms %}{% set _ = _copier_answers.update({'cluster_node_timeout_ms': cluster_node_timeout_ms}) %}{% endif %}{% if __asked_maxmemory_policy %}{% set _ = _copier_answers.update({'maxmemory_policy': maxmemory_policy}) %}{% endif %}{% if __asked_redis_image %}{% set _ = _copier_answers.update({'redis_image': redis_image}) %}{% endif %}{% if __asked_redis_version %}{% set _ = _copier_answers.update({'redis_version': redis_version}) %}{% endif %}{% if __asked_redis_image_digest %}{% set _ = _copier_answers.update({'redis_image_digest': redis_image_digest}) %}{% endif %}{% if __asked_redis_port %}{% set _ = _copier_answers.update({'redis_port': redis_port}) %}{% endif %}{% if __asked_sentinel_port %}{% set _ = _copier_answers.update({'sentinel_port': sentinel_port}) %}{% endif %}{% if __asked_cluster_bus_port %}{% set _ = _copier_answers.update({'cluster_bus_port': cluster_bus_port}) %}{% endif %}{% if __asked_storage_size %}{% set _ = _copier_answers.update({'storage_size': storage_size}) %}{% endif %}{% if __asked_storage_class %}{% set _ = _copier_answers.update({'storage_class': storage_class}) %}{% endif %}{% if __asked_redis_cpu_request %}{% set _ = _copier_answers.update({'redis_cpu_request': redis_cpu_request}) %}{% endif %}{% if __asked_redis_cpu_limit %}{% set _ = _copier_answers.update({'redis_cpu_limit': redis_cpu_limit}) %}{% endif %}{% if __asked_redis_memory_request %}{% set _ = _copier_answers.update({'redis_memory_request': redis_memory_request}) %}{% endif %}{% if __asked_redis_memory_limit %}{% set _ = _copier_answers.update({'redis_memory_limit': redis_memory_limit}) %}{% endif %}{% if __asked_secret_name %}{% set _ = _copier_answers.update({'secret_name': secret_name}) %}{% endif %}{% if __asked_secret_key %}{% set _ = _copier_answers.update({'secret_key': secret_key}) %}{% endif %}{% if __asked_kms_key_id %}{% set _ = _copier_answers.update({'kms_key_id': kms_key_id}) %}{% endif %}{% if __asked_secret_recovery_window_days %}{% set _ = _copier_answers.update({'secret_recovery_window_days': secret_recovery_window_days}) %}{% endif %}{% if __asked_node_type %}{% set _ = _copier_answers.update({'node_type': node_type}) %}{% endif %}{% if __asked_cache_engine_version %}{% set _ = _copier_answers.update({'cache_engine_version': cache_engine_version}) %}{% endif %}{% if __asked_cache_replicas %}{% set _ = _copier_answers.update({'cache_replicas': cache_replicas}) %}{% endif %}{% if __asked_snapshot_retention_days %}{% set _ = _copier_answers.update({'snapshot_retention_days': snapshot_retention_days}) %}{% endif %}{% if __asked_create_secret %}{% set _ = _copier_answers.update({'create_secret': create_secret}) %}{% endif %}{% if __asked_check_sentinel %}{% set _ = _copier_answers.update({'check_sentinel': check_sentinel}) %}{% endif %}{% if __asked_check_elasticache %}{% set _ = _copier_answers.update({'check_elasticache': check_elasticache}) %}{% endif %}{% set _copier_conf = {'answers_file': '.copier-answers.yml'} %}"use strict";
/**
 * {{ engine_name }} clients for {{ service_name }} (ioredis): reads through the Service, writes to the master.
 *
 * The same contract as client/python/redis_client.py. Reads go to
 * REDIS_HOST:REDIS_READ_PORT, the Service that spreads connections over every pod, the
 * master included (a read may lag a write by a little). Writes go to the master that
 * the majority of sentinels names (REDIS_HOST:REDIS_SENTINEL_PORT, master set
 * REDIS_MASTER_SET), found again the moment a sentinel announces a failover
 * (ioredis' failoverDetector: `+switch-master` on every sentinel). REDIS_PASSWORD is
 * needed by the sentinels too. Outside Kubernetes REDIS_HOST may list several hosts,
 * comma-separated: the writer asks each, the reader moves to the next one that answers.
 *
 *     const { reader, writer, writeConfirmed } = require("./redis_client");
 *     const w = writer();                       // once per process; w.disconnect() at exit
 *     await w.set("cart:42", "3 items");        // idempotent: safe to retry
 *     await writeConfirmed(writer({ retries: 0 }), ["INCR", "cart:42:version"]);
 *     await reader().get("cart:42");
 */
const { default: Redis, SentinelConnector } = require("ioredis");

const ENV_VARS = ["REDIS_HOST", "REDIS_READ_PORT", "REDIS_SENTINEL_PORT", "REDIS_MASTER_SET", "REDIS_PASSWORD"];

// Sentinel waits down-after-milliseconds ({{ down_after_ms }} ms for this {{ engine_name }}) before it
// starts a failover, which then takes a second or two. A write keeps waiting through
// reconnections for about twice that; reconnections wait 10 ms three times, then 20 ms,
// 40 ms, ... up to 250 ms, and a sentinel's announcement of the new master reconnects at
// once (the new master refuses writes, NOREPLICAS, until a replica has attached).
const FAILOVER_MS = 2 * {{ down_after_ms }};
const BACKOFF_BASE_MS = 10;
const BACKOFF_CAP_MS = 250;
const DEFAULT_RETRIES = Math.ceil(FAILOVER_MS / BACKOFF_CAP_MS) + 5;
const TIMEOUT_MS = 1000;
// Replicas a confirmed write waits for: all of them ({{ redis_replicas }} pods), so that whichever
// replica Sentinel promotes holds it.
const REPLICAS = {{ redis_replicas - 1 }};
const CONFIRM_TIMEOUT_MS = 500;
// "disconnected" is not one: a sentinel names the new master before its own link to it is up.
const DOWN_FLAGS = ["s_down", "o_down", "failover_in_progress"];

function settingsFromEnv(env = process.env) {
  const missing = ENV_VARS.filter((name) => !env[name]);
  if (missing.length) {
    throw new Error(`missing environment variables: ${missing.join(", ")}`);
  }
  const settings = {
    hosts: env.REDIS_HOST.split(",").map((h) => h.trim()).filter(Boolean),
    readPort: Number(env.REDIS_READ_PORT),
    sentinelPort: Number(env.REDIS_SENTINEL_PORT),
    masterSet: env.REDIS_MASTER_SET,
  };
  // Not enumerable: never printed with the settings, never serialised.
  Object.defineProperty(settings, "password", { value: env.REDIS_PASSWORD, enumerable: false });
  return settings;
}

function backoff(attempt) {
  return Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempt - 3));
}

/** A client on the read Service (any pod). Use it for reads only. */
function reader(settings = settingsFromEnv()) {
  let next = 0;
  const client = new Redis({
    host: settings.hosts[0],
    port: settings.readPort,
    password: settings.password,
    connectTimeout: TIMEOUT_MS,
    commandTimeout: TIMEOUT_MS,
    maxRetriesPerRequest: 3,
    retryStrategy(attempt) {
      // Several hosts (outside Kubernetes): reconnect to the next one.
      next = (next + 1) % settings.hosts.length;
      client.options.host = settings.hosts[next];
      return backoff(attempt);
    },
  });
  return client;
}

function hasDownFlag(answer) {
  const flags = String(answer.flags || "").split(",");
  return DOWN_FLAGS.some((flag) => flags.includes(flag));
}

/**
 * The master to write to, from the SENTINEL MASTER answers of several sentinels, or
 * null. A failover needs the votes of a majority of sentinels and raises the config
 * epoch, so the newest epoch among the sentinels that consider their master up names
 * the master the majority chose; a sentinel cut off with the old master still names it
 * under an older epoch. A master that a majority of `voters` reports down (or names
 * another master, as new) is refused: writes to it would be lost after the heal.
 */
function chooseMaster(answers, voters) {
  const epoch = (a) => Number(a["config-epoch"] || 0);
  const usable = answers.filter((a) => !hasDownFlag(a));
  if (!usable.length) return null;
  const newest = Math.max(...usable.map(epoch));
  const named = new Map();
  for (const a of usable.filter((x) => epoch(x) === newest)) {
    const key = `${a.ip}:${a.port}`;
    named.set(key, (named.get(key) || 0) + 1);
  }
  const [address] = [...named.entries()].sort((x, y) => y[1] - x[1])[0];
  const against = answers.filter((a) => epoch(a) >= newest && (`${a.ip}:${a.port}` !== address || hasDownFlag(a)));
  if (against.length >= Math.floor(voters / 2) + 1) return null;
  const [host, port] = [address.slice(0, address.lastIndexOf(":")), address.slice(address.lastIndexOf(":") + 1)];
  return { host, port: Number(port) };
}

function pairs(reply) {
  const out = {};
  for (let i = 0; Array.isArray(reply) && i + 1 < reply.length; i += 2) out[reply[i]] = reply[i + 1];
  return out;
}

/**
 * ioredis' SentinelConnector, asking every sentinel it knows (those configured and
 * those they name, SENTINEL SENTINELS) instead of the first that answers, and acting on
 * a failover announcement in every state of the connection. ioredis' own reaction to
 * `+switch-master` ends the socket, which leaves a hung master's socket open until
 * socketTimeout, does nothing while the client waits to reconnect, and ends the client
 * for good ("Connection is closed.") when it arrives while the client is resolving the
 * master: here a live socket is destroyed (the client reconnects at once), a waiting
 * reconnection starts now, and a resolution waiting for a master asks again now.
 */
class MajorityConnector extends SentinelConnector {
  async initFailoverDetector() {
    await super.initFailoverDetector();
    if (this.failoverDetector) {
      const detector = this.failoverDetector;
      detector.disconnect = () => {
        detector.isDisconnected = true; // one reaction per connection; each sentinel announces
        this.onSwitch();
      };
      // +odown: a quorum of sentinels finds the master down, a failover is coming. Leave
      // it now; the vote refuses it (a majority reports it down) until they name a
      // master again, so a master cut off from the majority gets no more writes.
      for (const { client } of detector.sentinels) {
        client.subscribe("+odown").catch(() => {});
        client.on("message", (channel, message) => {
          const [kind, name, host, port] = String(message).split(" ");
          if (channel === "+odown" && kind === "master" && name === this.options.name) {
            this.onDown(host, Number(port));
          }
        });
      }
    }
  }

  onDown(host, port) {
    const current = this.master; // as the sentinels name it (a hostname in a cluster)
    const client = this.client;
    if (current && current.host === host && current.port === port && client && client.status === "ready" && this.stream) {
      this.stream.destroy();
    }
  }

  onSwitch() {
    const client = this.client; // set by writer()
    if (this.wake) {
      this.wake(); // a resolution waiting for a master: ask the sentinels now
    } else if (!client) {
      return;
    } else if (client.status === "reconnecting") {
      client.connect().catch(() => {}); // the pending timer then finds it connecting: a no-op
    } else if ((client.status === "ready" || client.status === "connect") && this.stream) {
      this.stream.destroy();
    }
  }

  async resolveMaster(client) {
    await this.updateSentinels(client);
    // No master a majority would accept (failing over, or being failed over): ask again
    // after a back-off that a failover announcement ends at once, as long as the client
    // still wants to connect and about twice down-after has not passed.
    const deadline = Date.now() + FAILOVER_MS;
    for (let attempt = 1; ; attempt += 1) {
      const chosen = await this.vote();
      if (chosen) this.master = { host: chosen.host, port: chosen.port };
      if (chosen || !this.connecting || Date.now() > deadline) return chosen;
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, backoff(attempt));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  async vote() {
    const asked = this.sentinelIterator.sentinels.slice();
    const replies = (await Promise.all(asked.map((endpoint) => this.ask(endpoint)))).filter(Boolean);
    // One vote per sentinel: behind a Service name, a pod's sentinel also answers under
    // its own name (ioredis adds the names SENTINEL SENTINELS gives to the list).
    const answers = [...new Map(replies.map(([id, answer]) => [id, answer])).values()];
    if (!answers.length) return null;
    const voters = Math.max(...answers.map((a) => Number(a["num-other-sentinels"] || 0) + 1));
    const chosen = chooseMaster(answers, voters);
    return chosen && this.sentinelNatResolve(chosen);
  }

  async ask(endpoint) {
    const client = this.connectToSentinel(endpoint);
    client.on("error", () => {});
    try {
      const [[error, master], [idError, id]] = await client
        .pipeline()
        .sentinel("master", this.options.name)
        .sentinel("myid")
        .exec();
      return error || idError ? null : [id, pairs(master)];
    } catch {
      return null;
    } finally {
      client.disconnect();
    }
  }
}

/**
 * A client on the current master, found through Sentinel and found again after a
 * failover. Create it once per process and reuse it; disconnect() it at exit (quit()
 * alone leaves the failover detector's subscriptions to the sentinels open).
 *
 * retries: how many reconnections a command waits through before it fails (0: a
 * command in flight when the connection drops fails at once, for writes that are not
 * idempotent; ioredis would otherwise resend it after reconnecting).
 */
function writer(settings = settingsFromEnv(), { retries = DEFAULT_RETRIES } = {}) {
  const client = new Redis({
    sentinels: settings.hosts.map((host) => ({ host, port: settings.sentinelPort })),
    name: settings.masterSet,
    role: "master",
    Connector: MajorityConnector,
    // Sentinels ask for the password too; without it discovery finds no master.
    password: settings.password,
    sentinelPassword: settings.password,
    failoverDetector: true,
    connectTimeout: TIMEOUT_MS,
    sentinelCommandTimeout: TIMEOUT_MS,
    enableReadyCheck: false, // a master answers at once; saves a round trip per reconnection
    // A master that stops answering (hung, or cut off) is left after TIMEOUT_MS of silence.
    socketTimeout: TIMEOUT_MS,
    retryStrategy: backoff,
    sentinelRetryStrategy: backoff,
    sentinelReconnectStrategy: () => 200,
    maxRetriesPerRequest: retries,
    autoResendUnfulfilledCommands: retries > 0,
    // READONLY (a demoted master) and NOREPLICAS (a master without replicas in sync:
    // cut off from them, or promoted a moment ago): find the master again, resend.
    reconnectOnError: (error) => (retries > 0 && /^(READONLY|NOREPLICAS)/.test(error.message) ? 2 : false),
  });
  client.connector.client = client;
  return client;
}

class NotConfirmedError extends Error {}

/**
 * Run one write command, then WAIT until `replicas` replicas hold it. Resolves to the
 * command's reply; rejects with NotConfirmedError when fewer replicas confirmed within
 * timeoutMs: the write was applied on the master but may still be lost in a failover.
 * The pair is retried like any command of `client`: for a write that is not idempotent
 * use writer(settings, { retries: 0 }), so that an error never means "applied twice".
 */
async function writeConfirmed(client, command, { replicas = REPLICAS, timeoutMs = CONFIRM_TIMEOUT_MS } = {}) {
  const [[error, reply], [waitError, confirmed]] = await client
    .pipeline()
    .call(...command)
    .call("WAIT", replicas, timeoutMs)
    .exec();
  if (error || waitError) throw error || waitError;
  if (Number(confirmed) < replicas) {
    throw new NotConfirmedError(`${confirmed} of ${replicas} replicas confirmed the write within ${timeoutMs} ms`);
  }
  return reply;
}

module.exports = {
  ENV_VARS,
  REPLICAS,
  DEFAULT_RETRIES,
  settingsFromEnv,
  reader,
  writer,
  writeConfirmed,
  chooseMaster,
  MajorityConnector,
  NotConfirmedError,
};

if (require.main === module) {
  // node redis_client.js: write a key through the master, read it back through the Service.
  (async () => {
    const key = `{{ service_name }}:example:${require("crypto").randomUUID()}`;
    const w = writer();
    const r = reader();
    await writeConfirmed(w, ["SET", key, "hello", "EX", 60]);
    console.log(`wrote ${key} on the master, confirmed by ${REPLICAS} replicas; read back: ${await r.get(key)}`);
    w.disconnect();
    r.disconnect();
  })().catch((error) => {
    console.error(error.message);
    process.exit(1);
  });
}
