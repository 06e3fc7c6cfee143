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
{% macro dns_label() %}{% if varargs or kwargs %}{% endif %}{% endmacro %}{% macro dns_subdomain() %}{% if varargs or kwargs %}{% endif %}{% endmacro %}{% macro matches() %}{% if varargs or kwargs %}{% endif %}{% endmacro %}{% set __check = '' %}{% set _ = none %}{% set service_name = ((cookiecutter.service_name)) %}{% set owner = ((cookiecutter.owner)) %}{% set __app_namespace %}{{ service_name }}{% endset %}{% set app_namespace = (((cookiecutter.get('app_namespace', '') if cookiecutter.get('app_namespace', '')|string != '' else __app_namespace))) %}{% set engine = ((cookiecutter.engine)) %}{% set topology = ((cookiecutter.topology)) %}{% set __when_redis_namespace %}{{ topology != 'elasticache' }}{% endset %}{% set __asked_redis_namespace = __when_redis_namespace|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __redis_namespace %}redis{% endset %}{% set redis_namespace = (((cookiecutter.get('redis_namespace', '') if cookiecutter.get('redis_namespace', '')|string != '' else __redis_namespace))) %}{% set __when_secret_delivery %}{{ topology != 'elasticache' }}{% endset %}{% set __asked_secret_delivery = __when_secret_delivery|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __secret_delivery %}argocd-vault-plugin{% endset %}{% set secret_delivery = (((cookiecutter.get('secret_delivery', '') if cookiecutter.get('secret_delivery', '')|string != '' else __secret_delivery))) %}{% set __when_secret_store %}{{ topology != 'elasticache' and secret_delivery == 'external-secrets' }}{% endset %}{% set __asked_secret_store = __when_secret_store|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __secret_store %}{% endset %}{% set secret_store = (((cookiecutter.get('secret_store', '') if cookiecutter.get('secret_store', '')|string != '' else __secret_store))) %}{% set __when_oidc_provider_arn %}{{ topology != 'elasticache' and secret_delivery == 'external-secrets' }}{% endset %}{% set __asked_oidc_provider_arn = __when_oidc_provider_arn|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __oidc_provider_arn %}{% endset %}{% set oidc_provider_arn = (((cookiecutter.get('oidc_provider_arn', '') if cookiecutter.get('oidc_provider_arn', '')|string != '' else __oidc_provider_arn))) %}{% set aws_region = ((cookiecutter.aws_region)) %}{% set __when_vpc_id %}{{ topology == 'elasticache' }}{% endset %}{% set __asked_vpc_id = __when_vpc_id|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __vpc_id %}{% endset %}{% set vpc_id = (((cookiecutter.get('vpc_id', '') if cookiecutter.get('vpc_id', '')|string != '' else __vpc_id))) %}{% set __when_subnet_ids %}{{ topology == 'elasticache' }}{% endset %}{% set __asked_subnet_ids = __when_subnet_ids|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __subnet_ids %}{% endset %}{% set subnet_ids = (((cookiecutter.get('subnet_ids', '') if cookiecutter.get('subnet_ids', '')|string != '' else __subnet_ids))) %}{% set __when_app_security_group_id %}{{ topology == 'elasticache' }}{% endset %}{% set __asked_app_security_group_id = __when_app_security_group_id|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __app_security_group_id %}{% endset %}{% set app_security_group_id = (((cookiecutter.get('app_security_group_id', '') if cookiecutter.get('app_security_group_id', '')|string != '' else __app_security_group_id))) %}{% set __when_client_languages %}{{ topology == 'sentinel' }}{% endset %}{% set __asked_client_languages = __when_client_languages|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __client_languages %}python{% endset %}{% set client_languages = (((cookiecutter.get('client_languages', '') if __asked_client_languages else __client_languages)).split(',') if (cookiecutter.get('client_languages', '') if __asked_client_languages else __client_languages) else []) %}{% set size = ((cookiecutter.size)) %}{% set customise = ((cookiecutter.customise)|string|lower in ['true', 'yes', 'y', 'on', '1']) %}{% set __when_description %}{{ customise }}{% endset %}{% set __asked_description = __when_description|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __description %}{{ 'Valkey' if engine == 'valkey' else 'Redis' }} {{ {'sentinel': 'Sentinel', 'cluster': 'Cluster', 'elasticache': 'on ElastiCache'}[topology] }} for the {{ service_name }} service{% endset %}{% set description = (((cookiecutter.get('description', '') if cookiecutter.get('description', '')|string != '' else __description))) %}{% set __when_system %}{{ customise }}{% endset %}{% set __asked_system = __when_system|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __system %}{{ service_name }}{% endset %}{% set system = (((cookiecutter.get('system', '') if cookiecutter.get('system', '')|string != '' else __system))) %}{% set __when_lifecycle %}{{ customise }}{% endset %}{% set __asked_lifecycle = __when_lifecycle|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __lifecycle %}production{% endset %}{% set lifecycle = (((cookiecutter.get('lifecycle', '') if cookiecutter.get('lifecycle', '')|string != '' else __lifecycle))) %}{% set __when_app_deployment %}{{ customise }}{% endset %}{% set __asked_app_deployment = __when_app_deployment|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __app_deployment %}{{ service_name }}{% endset %}{% set app_deployment = (((cookiecutter.get('app_deployment', '') if cookiecutter.get('app_deployment', '')|string != '' else __app_deployment))) %}{% set __when_app_container %}{{ customise }}{% endset %}{% set __asked_app_container = __when_app_container|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __app_container %}{{ app_deployment }}{% endset %}{% set app_container = (((cookiecutter.get('app_container', '') if cookiecutter.get('app_container', '')|string != '' else __app_container))) %}{% set __when_cluster_domain %}{{ customise and topology != 'elasticache' }}{% endset %}{% set __asked_cluster_domain = __when_cluster_domain|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __cluster_domain %}cluster.local{% endset %}{% set cluster_domain = (((cookiecutter.get('cluster_domain', '') if cookiecutter.get('cluster_domain', '')|string != '' else __cluster_domain))) %}{% set __when_master_set %}{{ customise and topology == 'sentinel' }}{% endset %}{% set __asked_master_set = __when_master_set|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __master_set %}{{ service_name }}-redis{% endset %}{% set master_set = (((cookiecutter.get('master_set', '') if cookiecutter.get('master_set', '')|string != '' else __master_set))) %}{% set __when_redis_replicas %}{{ customise and topology == 'sentinel' }}{% endset %}{% set __asked_redis_replicas = __when_redis_replicas|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __redis_replicas %}3{% endset %}{% set redis_replicas = (((cookiecutter.get('redis_replicas', '') if cookiecutter.get('redis_replicas', '')|string != '' else __redis_replicas))|int) %}{% set __majority %}{{ redis_replicas // 2 + 1 }}{% endset %}{% set majority = ((__majority)|int) %}{% set __when_sentinel_quorum %}{{ customise and topology == 'sentinel' }}{% endset %}{% set __asked_sentinel_quorum = __when_sentinel_quorum|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __sentinel_quorum %}{{ majority }}{% endset %}{% set sentinel_quorum = (((cookiecutter.get('sentinel_quorum', '') if cookiecutter.get('sentinel_quorum', '')|string != '' else __sentinel_quorum))|int) %}{% set __when_min_replicas_to_write %}{{ customise and topology == 'sentinel' }}{% endset %}{% set __asked_min_replicas_to_write = __when_min_replicas_to_write|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __min_replicas_to_write %}1{% endset %}{% set min_replicas_to_write = (((cookiecutter.get('min_replicas_to_write', '') if cookiecutter.get('min_replicas_to_write', '')|string != '' else __min_replicas_to_write))|int) %}{% set __when_min_replicas_max_lag %}{{ customise and topology == 'sentinel' }}{% endset %}{% set __asked_min_replicas_max_lag = __when_min_replicas_max_lag|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __min_replicas_max_lag %}2{% endset %}{% set min_replicas_max_lag = (((cookiecutter.get('min_replicas_max_lag', '') if cookiecutter.get('min_replicas_max_lag', '')|string != '' else __min_replicas_max_lag))|int) %}{% set __when_down_after_ms %}{{ customise and topology == 'sentinel' }}{% endset %}{% set __asked_down_after_ms = __when_down_after_ms|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __down_after_ms %}10000{% endset %}{% set down_after_ms = (((cookiecutter.get('down_after_ms', '') if cookiecutter.get('down_after_ms', '')|string != '' else __down_after_ms))|int) %}{% set __when_failover_timeout_ms %}{{ customise and topology == 'sentinel' }}{% endset %}{% set __asked_failover_timeout_ms = __when_failover_timeout_ms|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __failover_timeout_ms %}180000{% endset %}{% set failover_timeout_ms = (((cookiecutter.get('failover_timeout_ms', '') if cookiecutter.get('failover_timeout_ms', '')|string != '' else __failover_timeout_ms))|int) %}{% set __when_cluster_masters %}{{ customise and topology == 'cluster' }}{% endset %}{% set __asked_cluster_masters = __when_cluster_masters|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __cluster_masters %}3{% endset %}{% set cluster_masters = (((cookiecutter.get('cluster_masters', '') if cookiecutter.get('cluster_masters', '')|string != '' else __cluster_masters))|int) %}{% set __when_cluster_replicas %}{{ customise and topology == 'cluster' }}{% endset %}{% set __asked_cluster_replicas = __when_cluster_replicas|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __cluster_replicas %}1{% endset %}{% set cluster_replicas = (((cookiecutter.get('cluster_replicas', '') if cookiecutter.get('cluster_replicas', '')|string != '' else __cluster_replicas))|int) %}{% set __when_cluster_node_timeout_ms %}{{ customise and topology == 'cluster' }}{% endset %}{% set __asked_cluster_node_timeout_ms = __when_cluster_node_timeout_ms|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __cluster_node_timeout_ms %}15000{% endset %}{% set cluster_node_timeout_ms = (((cookiecutter.get('cluster_node_timeout_ms', '') if cookiecutter.get('cluster_node_timeout_ms', '')|string != '' else __cluster_node_timeout_ms))|int) %}{% set __when_maxmemory_policy %}{{ customise and topology != 'elasticache' }}{% endset %}{% set __asked_maxmemory_policy = __when_maxmemory_policy|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __maxmemory_policy %}noeviction{% endset %}{% set maxmemory_policy = (((cookiecutter.get('maxmemory_policy', '') if cookiecutter.get('maxmemory_policy', '')|string != '' else __maxmemory_policy))) %}{% set __when_redis_image %}{{ customise and topology != 'elasticache' }}{% endset %}{% set __asked_redis_image = __when_redis_image|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __redis_image %}{{ 'valkey/valkey' if engine == 'valkey' else 'redis' }}{% endset %}{% set redis_image = (((cookiecutter.get('redis_image', '') if cookiecutter.get('redis_image', '')|string != '' else __redis_image))) %}{% set __when_redis_version %}{{ customise and topology != 'elasticache' }}{% endset %}{% set __asked_redis_version = __when_redis_version|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __redis_version %}{{ '9.1.2' if engine == 'valkey' else '7.4.6' }}{% endset %}{% set redis_version = (((cookiecutter.get('redis_version', '') if cookiecutter.get('redis_version', '')|string != '' else __redis_version))) %}{% set __when_redis_image_digest %}{{ customise and topology != 'elasticache' }}{% endset %}{% set __asked_redis_image_digest = __when_redis_image_digest|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __redis_image_digest %}{% endset %}{% set redis_image_digest = (((cookiecutter.get('redis_image_digest', '') if cookiecutter.get('redis_image_digest', '')|string != '' else __redis_image_digest))) %}{% set __when_redis_port %}{{ customise }}{% endset %}{% set __asked_redis_port = __when_redis_port|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __redis_port %}6379{% endset %}{% set redis_port = (((cookiecutter.get('redis_port', '') if cookiecutter.get('redis_port', '')|string != '' else __redis_port))|int) %}{% set __when_sentinel_port %}{{ customise and topology == 'sentinel' }}{% endset %}{% set __asked_sentinel_port = __when_sentinel_port|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __sentinel_port %}26379{% endset %}{% set sentinel_port = (((cookiecutter.get('sentinel_port', '') if cookiecutter.get('sentinel_port', '')|string != '' else __sentinel_port))|int) %}{% set __when_cluster_bus_port %}{{ customise and topology == 'cluster' }}{% endset %}{% set __asked_cluster_bus_port = __when_cluster_bus_port|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __cluster_bus_port %}{{ redis_port + 10000 }}{% endset %}{% set cluster_bus_port = (((cookiecutter.get('cluster_bus_port', '') if cookiecutter.get('cluster_bus_port', '')|string != '' else __cluster_bus_port))|int) %}{% set __when_storage_size %}{{ customise and topology != 'elasticache' }}{% endset %}{% set __asked_storage_size = __when_storage_size|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __storage_size %}{{ SIZES[size].storage }}{% endset %}{% set storage_size = (((cookiecutter.get('storage_size', '') if cookiecutter.get('storage_size', '')|string != '' else __storage_size))) %}{% set __when_storage_class %}{{ customise and topology != 'elasticache' }}{% endset %}{% set __asked_storage_class = __when_storage_class|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __storage_class %}{% endset %}{% set storage_class = (((cookiecutter.get('storage_class', '') if cookiecutter.get('storage_class', '')|string != '' else __storage_class))) %}{% set __when_redis_cpu_request %}{{ customise and topology != 'elasticache' }}{% endset %}{% set __asked_redis_cpu_request = __when_redis_cpu_request|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __redis_cpu_request %}{{ SIZES[size].cpu }}{% endset %}{% set redis_cpu_request = (((cookiecutter.get('redis_cpu_request', '') if cookiecutter.get('redis_cpu_request', '')|string != '' else __redis_cpu_request))) %}{% set __when_redis_cpu_limit %}{{ customise and topology != 'elasticache' }}{% endset %}{% set __asked_redis_cpu_limit = __when_redis_cpu_limit|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __redis_cpu_limit %}{% endset %}{% set redis_cpu_limit = (((cookiecutter.get('redis_cpu_limit', '') if cookiecutter.get('redis_cpu_limit', '')|string != '' else __redis_cpu_limit))) %}{% set __when_redis_memory_request %}{{ customise and topology != 'elasticache' }}{% endset %}{% set __asked_redis_memory_request = __when_redis_memory_request|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __redis_memory_request %}{{ SIZES[size].memory }}{% endset %}{% set redis_memory_request = (((cookiecutter.get('redis_memory_request', '') if cookiecutter.get('redis_memory_request', '')|string != '' else __redis_memory_request))) %}{% set __when_redis_memory_limit %}{{ customise and topology != 'elasticache' }}{% endset %}{% set __asked_redis_memory_limit = __when_redis_memory_limit|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __redis_memory_limit %}{{ SIZES[size].memory }}{% endset %}{% set redis_memory_limit = (((cookiecutter.get('redis_memory_limit', '') if cookiecutter.get('redis_memory_limit', '')|string != '' else __redis_memory_limit))) %}{% set __when_secret_name %}{{ customise and topology != 'elasticache' }}{% endset %}{% set __asked_secret_name = __when_secret_name|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __secret_name %}{{ service_name }}-redis{% endset %}{% set secret_name = (((cookiecutter.get('secret_name', '') if cookiecutter.get('secret_name', '')|string != '' else __secret_name))) %}{% set __when_secret_key %}{{ customise and topology != 'elasticache' }}{% endset %}{% set __asked_secret_key = __when_secret_key|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __secret_key %}db-password{% endset %}{% set secret_key = (((cookiecutter.get('secret_key', '') if cookiecutter.get('secret_key', '')|string != '' else __secret_key))) %}{% set __when_kms_key_id %}{{ customise }}{% endset %}{% set __asked_kms_key_id = __when_kms_key_id|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __kms_key_id %}{% endset %}{% set kms_key_id = (((cookiecutter.get('kms_key_id', '') if cookiecutter.get('kms_key_id', '')|string != '' else __kms_key_id))) %}{% set __when_secret_recovery_window_days %}{{ customise and topology != 'elasticache' }}{% endset %}{% set __asked_secret_recovery_window_days = __when_secret_recovery_window_days|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __secret_recovery_window_days %}7{% endset %}{% set secret_recovery_window_days = (((cookiecutter.get('secret_recovery_window_days', '') if cookiecutter.get('secret_recovery_window_days', '')|string != '' else __secret_recovery_window_days))|int) %}{% set __when_node_type %}{{ customise and topology == 'elasticache' }}{% endset %}{% set __asked_node_type = __when_node_type|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __node_type %}{{ SIZES[size].node_type }}{% endset %}{% set node_type = (((cookiecutter.get('node_type', '') if cookiecutter.get('node_type', '')|string != '' else __node_type))) %}{% set __when_cache_engine_version %}{{ customise and topology == 'elasticache' }}{% endset %}{% set __asked_cache_engine_version = __when_cache_engine_version|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __cache_engine_version %}{{ CACHE_ENGINE_VERSIONS[engine][-1] }}{% endset %}{% set cache_engine_version = (((cookiecutter.get('cache_engine_version', '') if cookiecutter.get('cache_engine_version', '')|string != '' else __cache_engine_version))) %}{% set __when_cache_replicas %}{{ customise and topology == 'elasticache' }}{% endset %}{% set __asked_cache_replicas = __when_cache_replicas|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __cache_replicas %}2{% endset %}{% set cache_replicas = (((cookiecutter.get('cache_replicas', '') if cookiecutter.get('cache_replicas', '')|string != '' else __cache_replicas))|int) %}{% set __when_snapshot_retention_days %}{{ customise and topology == 'elasticache' }}{% endset %}{% set __asked_snapshot_retention_days = __when_snapshot_retention_days|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __snapshot_retention_days %}7{% endset %}{% set snapshot_retention_days = (((cookiecutter.get('snapshot_retention_days', '') if cookiecutter.get('snapshot_retention_days', '')|string != '' else __snapshot_retention_days))|int) %}{% set __when_create_secret %}{{ topology != 'elasticache' }}{% endset %}{% set __asked_create_secret = __when_create_secret|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __create_secret %}False{% endset %}{% set create_secret = (((cookiecutter.get('create_secret', '') if cookiecutter.get('create_secret', '')|string != '' else __create_secret))|string|lower in ['true', 'yes', 'y', 'on', '1']) %}{% set __when_check_sentinel %}{{ topology == 'sentinel' }}{% endset %}{% set __asked_check_sentinel = __when_check_sentinel|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __check_sentinel %}False{% endset %}{% set check_sentinel = (((cookiecutter.get('check_sentinel', '') if cookiecutter.get('check_sentinel', '')|string != '' else __check_sentinel))|string|lower in ['true', 'yes', 'y', 'on', '1']) %}{% set __when_check_elasticache %}{{ topology == 'elasticache' }}{% endset %}{% set __asked_check_elasticache = __when_check_elasticache|trim|lower in ['true', 'yes', 'y', 'on', '1'] %}{% set __check_elasticache %}False{% endset %}{% set check_elasticache = (((cookiecutter.get('check_elasticache', '') if cookiecutter.get('check_elasticache', '')|string != '' else __check_elasticache))|string|lower in ['true', 'yes', 'y', 'on', '1']) %}{% set __engine_name %}{{ 'Valkey' if engine == 'valkey' else 'Redis' }}{% endset %}{% set engine_name = ((__engine_name)) %}{% set __topology_name %}{{ {'sentinel': 'Sentinel', 'cluster': 'Cluster', 'elasticache': 'on ElastiCache'}[topology] }}{% endset %}{% set topology_name = ((__topology_name)) %}{% set __image_ref %}{{ redis_image }}:{{ redis_version }}{{ '@' ~ redis_image_digest if redis_image_digest }}{% endset %}{% set image_ref = ((__image_ref)) %}{% set __cluster_pods %}{{ cluster_masters * (cluster_replicas + 1) }}{% endset %}{% set cluster_pods = ((__cluster_pods)|int) %}{% set __cluster_peer_hosts %}{% for i in range(cluster_pods) %}{{ service_name }}-redis-{{ i }}.{{ service_name }}-redis-headless.{{ redis_namespace }}.svc.{{ cluster_domain }}{{ ' ' if not loop.last else '' }}{% endfor %}{% endset %}{% set cluster_peer_hosts = ((__cluster_peer_hosts)) %}{% set __redis_name %}{{ service_name }}-redis{% endset %}{% set redis_name = ((__redis_name)) %}{% set __headless_service %}{{ service_name }}-redis-headless{% endset %}{% set headless_service = ((__headless_service)) %}{% set __redis_host %}{{ service_name }}-redis.{{ redis_namespace }}.svc.{{ cluster_domain }}{% endset %}{% set redis_host = ((__redis_host)) %}{% set __app_label %}{{ service_name }}-redis{% endset %}{% set app_label = ((__app_label)) %}{% set __redis_maxmemory_bytes %}{{ ((bytes(redis_memory_limit) | int) * 3 // 4) }}{% endset %}{% set redis_maxmemory_bytes = ((__redis_maxmemory_bytes)|int) %}{% set __avp_placeholder %}<path:{{ secret_name }}#{{ secret_key }}>{% endset %}{% set avp_placeholder = ((__avp_placeholder)) %}{% set __secret_store_kind %}{{ 'ClusterSecretStore' if secret_store else 'SecretStore' }}{% endset %}{% set secret_store_kind = ((__secret_store_kind)) %}{% set __secret_store_name %}{{ secret_store or service_name ~ '-redis' }}{% endset %}{% set secret_store_name = ((__secret_store_name)) %}{% set __secret_reader %}{{ service_name }}-redis-secret-reader{% endset %}{% set secret_reader = ((__secret_reader)) %}{% set __reader_role_name %}{{ service_name }}-redis-reader-{{ aws_region }}{% endset %}{% set reader_role_name = ((__reader_role_name)) %}{% set __reader_role_arn %}{% set arn = oidc_provider_arn.split(':') %}{{ 'arn:' ~ arn[1] ~ ':iam::' ~ arn[4] ~ ':role/' ~ reader_role_name if arn | length == 6 else '' }}{% endset %}{% set reader_role_arn = ((__reader_role_arn)) %}{% set __cache_user_id %}{{ service_name }}-app{% endset %}{% set cache_user_id = ((__cache_user_id)) %}{% set __cache_default_user_id %}{{ service_name }}-default-off{% endset %}{% set cache_default_user_id = ((__cache_default_user_id)) %}{% set __cache_subnet_list %}{{ subnet_ids.split(',') | tojson }}{% endset %}{% set cache_subnet_list = ((__cache_subnet_list)) %}{% set __container_uid %}10001{% endset %}{% set container_uid = ((__container_uid)|int) %}{% set __check %}{{ dns_label(service_name, 30) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question service_name: ' ~ __check|trim] }}{% endif %}{% set __check %}{{ matches(owner, '^((group|user):)?([a-z0-9]([-a-z0-9]*[a-z0-9])?/)?[A-Za-z0-9]([-_.A-Za-z0-9]{0,61}[A-Za-z0-9])?$', 'must be a Backstage owner reference [group:|user:][namespace/]name, the name of 1 to 63 letters, digits, - _ or .') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question owner: ' ~ __check|trim] }}{% endif %}{% set __check %}{{ dns_label(app_namespace) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question app_namespace: ' ~ __check|trim] }}{% endif %}{% if __asked_redis_namespace %}{% set __check %}{{ dns_label(redis_namespace) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question redis_namespace: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_secret_store %}{% set __check %}{{ dns_subdomain(secret_store, allow_empty=true) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question secret_store: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_oidc_provider_arn %}{% set __check %}{{ iam_oidc_provider(oidc_provider_arn, secret_store) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question oidc_provider_arn: ' ~ __check|trim] }}{% endif %}{% endif %}{% set __check %}{{ matches(aws_region, '^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$', 'must be an AWS region code such as eu-west-1') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question aws_region: ' ~ __check|trim] }}{% endif %}{% if __asked_vpc_id %}{% set __check %}{{ matches(vpc_id, '^vpc-([0-9a-f]{8}|[0-9a-f]{17})$', 'must be a VPC id, vpc- and 8 or 17 lowercase hex digits') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question vpc_id: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_subnet_ids %}{% set __check %}{{ matches(subnet_ids, '^subnet-([0-9a-f]{8}|[0-9a-f]{17})(,subnet-([0-9a-f]{8}|[0-9a-f]{17}))+$', 'must be at least two subnet ids (subnet- and 8 or 17 lowercase hex digits), comma-separated without spaces') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question subnet_ids: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_app_security_group_id %}{% set __check %}{{ matches(app_security_group_id, '^sg-([0-9a-f]{8}|[0-9a-f]{17})$', 'must be a security group id, sg- and 8 or 17 lowercase hex digits') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question app_security_group_id: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_description %}{% set __check %}{{ one_line(description, 200) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question description: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_system %}{% set __check %}{{ matches(system, '^[A-Za-z0-9]([-_.A-Za-z0-9]{0,61}[A-Za-z0-9])?$', 'must be a Backstage entity name: 1 to 63 letters, digits, - _ or ., starting and ending with a letter or digit') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question system: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_app_deployment %}{% set __check %}{{ dns_subdomain(app_deployment) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question app_deployment: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_app_container %}{% set __check %}{{ dns_label(app_container) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question app_container: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_cluster_domain %}{% set __check %}{{ dns_subdomain(cluster_domain) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question cluster_domain: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_master_set %}{% set __check %}{{ matches(master_set, '^[A-Za-z0-9][-_.A-Za-z0-9]{0,62}$', 'must be 1 to 63 letters, digits, - _ or ., starting with a letter or digit') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question master_set: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_redis_replicas %}{% set __check %}{{ '' if redis_replicas is number and redis_replicas is odd and 3 <= redis_replicas <= 9 else 'must be an odd whole number from 3 to 9 (got \'' ~ redis_replicas ~ '\')' }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question redis_replicas: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_sentinel_quorum %}{% set __check %}{{ int_between(sentinel_quorum, majority, redis_replicas, ' (a majority of the ' ~ redis_replicas ~ ' pods, at most all of them)') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question sentinel_quorum: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_min_replicas_to_write %}{% set __check %}{{ int_between(min_replicas_to_write, 1, redis_replicas - 1, ' (at least 1, fewer than the ' ~ redis_replicas ~ ' pods)') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question min_replicas_to_write: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_min_replicas_max_lag %}{% set __check %}{{ int_between(min_replicas_max_lag, 1, 60) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question min_replicas_max_lag: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_down_after_ms %}{% set __check %}{{ int_between(down_after_ms, 1000, 600000) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question down_after_ms: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_failover_timeout_ms %}{% set __check %}{{ int_between(failover_timeout_ms, down_after_ms + 1, 3600000, ' (more than down_after_ms)') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question failover_timeout_ms: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_cluster_masters %}{% set __check %}{{ int_between(cluster_masters, 3, 12, ' (a majority of masters must survive the loss of one to fail it over)') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question cluster_masters: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_cluster_replicas %}{% set __check %}{{ int_between(cluster_replicas, 1, 3, ' (at least 1, so that losing any one pod never loses a slot)') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question cluster_replicas: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_cluster_node_timeout_ms %}{% set __check %}{{ int_between(cluster_node_timeout_ms, 1000, 600000) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question cluster_node_timeout_ms: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_redis_image %}{% set __check %}{{ 'must not be a Bitnami image: use the engine\'s official image or a mirror of it (got \'' ~ redis_image ~ '\')' if 'bitnami' in redis_image | lower else matches(redis_image, '^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*(:[0-9]+)?/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$', 'must be an image repository without tag or digest, such as redis or registry.example.com/mirror/redis') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question redis_image: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_redis_version %}{% set __check %}{{ matches(redis_version, '^[0-9]+[.][0-9]+[.][0-9]+(-[a-z0-9]+)?$', 'must be a pinned release tag, MAJOR.MINOR.PATCH with an optional -variant, such as 7.4.6-alpine') or release_at_least(redis_version, (7, 2) if engine == 'valkey' else ((7, 0) if topology == 'cluster' else (6, 2)), engine) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question redis_version: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_redis_image_digest %}{% set __check %}{{ matches(redis_image_digest, '^sha256:[a-f0-9]{64}$', 'must be an image digest: sha256: followed by 64 lowercase hex digits', allow_empty=true) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question redis_image_digest: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_redis_port %}{% set __check %}{{ int_between(redis_port, 1024, 65535, ' (unprivileged: the containers run as non-root)') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question redis_port: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_sentinel_port %}{% set __check %}{{ 'must differ from redis_port (got ' ~ sentinel_port ~ ')' if sentinel_port == redis_port else int_between(sentinel_port, 1024, 65535, ' (unprivileged: the containers run as non-root)') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question sentinel_port: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_cluster_bus_port %}{% set __check %}{{ bus_port(cluster_bus_port, redis_port) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question cluster_bus_port: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_storage_size %}{% set __check %}{{ memory(storage_size) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question storage_size: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_storage_class %}{% set __check %}{{ dns_subdomain(storage_class, allow_empty=true) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question storage_class: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_redis_cpu_request %}{% set __check %}{{ cpu(redis_cpu_request) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question redis_cpu_request: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_redis_cpu_limit %}{% set __check %}{{ cpu(redis_cpu_limit, allow_empty=true) or ('must not be below redis_cpu_request (' ~ redis_cpu_request ~ ')' if redis_cpu_limit and (millicores(redis_cpu_limit) | int) < (millicores(redis_cpu_request) | int)) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question redis_cpu_limit: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_redis_memory_request %}{% set __check %}{{ memory(redis_memory_request) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question redis_memory_request: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_redis_memory_limit %}{% set __check %}{{ memory(redis_memory_limit) or ('must not be below redis_memory_request (' ~ redis_memory_request ~ ')' if (bytes(redis_memory_limit) | int) < (bytes(redis_memory_request) | int)) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question redis_memory_limit: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_secret_name %}{% set __check %}{{ matches(secret_name, '^(?!.*-[A-Za-z0-9]{6}$)[A-Za-z0-9/_+=.@-]{1,512}$', 'must be 1 to 512 of A-Z a-z 0-9 / _ + = . @ -, and must not end in a hyphen and six characters (AWS reads that as an ARN suffix)') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question secret_name: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_secret_key %}{% set __check %}{{ matches(secret_key, '^[-._A-Za-z0-9]{1,253}$', 'must be 1 to 253 letters, digits, - _ or . (a valid Kubernetes Secret key)') }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question secret_key: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_kms_key_id %}{% set __check %}{{ matches(kms_key_id, '^(arn:aws[-a-z]*:kms:[a-z0-9-]+:[0-9]{12}:(key/[-a-f0-9]{36}|alias/[A-Za-z0-9/_-]+)|[-a-f0-9]{36}|alias/[A-Za-z0-9/_-]+)$', 'must be a KMS key ARN, key id (a UUID), alias/NAME or alias ARN', allow_empty=true) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question kms_key_id: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_secret_recovery_window_days %}{% set __check %}{{ '' if secret_recovery_window_days is number and (secret_recovery_window_days == 0 or 7 <= secret_recovery_window_days <= 30) else 'must be 0 or a whole number from 7 to 30 (got \'' ~ secret_recovery_window_days ~ '\')' }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question secret_recovery_window_days: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_node_type %}{% set __check %}{{ elasticache_node_type(node_type) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question node_type: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_cache_engine_version %}{% set __check %}{{ elasticache_version(cache_engine_version, engine) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question cache_engine_version: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_cache_replicas %}{% set __check %}{{ int_between(cache_replicas, 1, 5) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question cache_replicas: ' ~ __check|trim] }}{% endif %}{% endif %}{% if __asked_snapshot_retention_days %}{% set __check %}{{ int_between(snapshot_retention_days, 0, 35) }}{% endset %}{% if __check|trim %}{{ cookiecutter['Validation error for question snapshot_retention_days: ' ~ __check|trim] }}{% endif %}{% endif %}{% set _copier_answers = {'_commit': 'v0.3.0', '_src_path': 'https://github.com/example-org/redis-sentinel-template.git', 'service_name': service_name, 'owner': owner, 'app_namespace': app_namespace, 'engine': engine, 'topology': topology, 'aws_region': aws_region, 'size': size, 'customise': customise} %}{% if __asked_redis_namespace %}{% set _ = _copier_answers.update({'redis_namespace': redis_namespace}) %}{% endif %}{% if __asked_secret_delivery %}{% set _ = _copier_answers.update({'secret_delivery': secret_delivery}) %}{% endif %}{% if __asked_secret_store %}{% set _ = _copier_answers.update({'secret_store': secret_store}) %}{% endif %}{% if __asked_oidc_provider_arn %}{% set _ = _copier_answers.update({'oidc_provider_arn': oidc_provider_arn}) %}{% endif %}{% if __asked_vpc_id %}{% set _ = _copier_answers.update({'vpc_id': vpc_id}) %}{% endif %}{% if __asked_subnet_ids %}{% set _ = _copier_answers.update({'subnet_ids': subnet_ids}) %}{% endif %}{% if __asked_app_security_group_id %}{% set _ = _copier_answers.update({'app_security_group_id': app_security_group_id}) %}{% endif %}{% if __asked_client_languages %}{% set _ = _copier_answers.update({'client_languages': client_languages}) %}{% endif %}{% if __asked_description %}{% set _ = _copier_answers.update({'description': description}) %}{% endif %}{% if __asked_system %}{% set _ = _copier_answers.update({'system': system}) %}{% endif %}{% if __asked_lifecycle %}{% set _ = _copier_answers.update({'lifecycle': lifecycle}) %}{% endif %}{% if __asked_app_deployment %}{% set _ = _copier_answers.update({'app_deployment': app_deployment}) %}{% endif %}{% if __asked_app_container %}{% set _ = _copier_answers.update({'app_container': app_container}) %}{% endif %}{% if __asked_cluster_domain %}{% set _ = _copier_answers.update({'cluster_domain': cluster_domain}) %}{% endif %}{% if __asked_master_set %}{% set _ = _copier_answers.update({'master_set': master_set}) %}{% endif %}{% if __asked_redis_replicas %}{% set _ = _copier_answers.update({'redis_replicas': redis_replicas}) %}{% endif %}{% if __asked_sentinel_quorum %}{% set _ = _copier_answers.update({'sentinel_quorum': sentinel_quorum}) %}{% endif %}{% if __asked_min_replicas_to_write %}{% set _ = _copier_answers.update({'min_replicas_to_write': min_replicas_to_write}) %}{% endif %}{% if __asked_min_replicas_max_lag %}{% set _ = _copier_answers.update({'min_replicas_max_lag': min_replicas_max_lag}) %}{% endif %}{% if __asked_down_after_ms %}{% set _ = _copier_answers.update({'down_after_ms': down_after_ms}) %}{% endif %}{% if __asked_failover_timeout_ms %}{% set _ = _copier_answers.update({'failover_timeout_ms': failover_timeout_ms}) %}{% endif %}{% if __asked_cluster_masters %}{% set _ = _copier_answers.update({'cluster_masters': cluster_masters}) %}{% endif %}{% if __asked_cluster_replicas %}{% set _ = _copier_answers.update({'cluster_replicas': cluster_replicas}) %}{% endif %}{% if __asked_cluster_node_timeout_ms %}{% set _ = _copier_answers.update({'cluster_node_timeout_ms': cluster_node_timeout_ms}) %}{% endif %}{% if __asked_maxmemory_policy %}{% set _ = _copier_answers.update({'maxmemory_policy': maxmemory_policy}) %}{% endif %}{% if __asked_redis_image %}{% set _ = _copier_answers.update({'redis_image': redis_image}) %}{% endif %}{% if __asked_redis_version %}{% set _ = _copier_answers.update({'redis_version': redis_version}) %}{% endif %}{% if __asked_redis_image_digest %}{% set _ = _copier_answers.update({'redis_image_digest': redis_image_digest}) %}{% endif %}{% if __asked_redis_port %}{% set _ = _copier_answers.update({'redis_port': redis_port}) %}{% endif %}{% if __asked_sentinel_port %}{% set _ = _copier_answers.update({'sentinel_port': sentinel_port}) %}{% endif %}{% if __asked_cluster_bus_port %}{% set _ = _copier_answers.update({'cluster_bus_port': cluster_bus_port}) %}{% endif %}{% if __asked_storage_size %}{% set _ = _copier_answers.update({'storage_size': storage_size}) %}{% endif %}{% if __asked_storage_class %}{% set _ = _copier_answers.update({'storage_class': storage_class}) %}{% endif %}{% if __asked_redis_cpu_request %}{% set _ = _copier_answers.update({'redis_cpu_request': redis_cpu_request}) %}{% endif %}{% if __asked_redis_cpu_limit %}{% set _ = _copier_answers.update({'redis_cpu_limit': redis_cpu_limit}) %}{% endif %}{% if __asked_redis_memory_request %}{% set _ = _copier_answers.update({'redis_memory_request': redis_memory_request}) %}{% endif %}{% if __asked_redis_memory_limit %}{% set _ = _copier_answers.update({'redis_memory_limit': redis_memory_limit}) %}{% endif %}{% if __asked_secret_name %}{% set _ = _copier_answers.update({'secret_name': secret_name}) %}{% endif %}{% if __asked_secret_key %}{% set _ = _copier_answers.update({'secret_key': secret_key}) %}{% endif %}{% if __asked_kms_key_id %}{% set _ = _copier_answers.update({'kms_key_id': kms_key_id}) %}{% endif %}{% if __asked_secret_recovery_window_days %}{% set _ = _copier_answers.update({'secret_recovery_window_days': secret_recovery_window_days}) %}{% endif %}{% if __asked_node_type %}{% set _ = _copier_answers.update({'node_type': node_type}) %}{% endif %}{% if __asked_cache_engine_version %}{% set _ = _copier_answers.update({'cache_engine_version': cache_engine_version}) %}{% endif %}{% if __asked_cache_replicas %}{% set _ = _copier_answers.update({'cache_replicas': cache_replicas}) %}{% endif %}{% if __asked_snapshot_retention_days %}{% set _ = _copier_answers.update({'snapshot_retention_days': snapshot_retention_days}) %}{% endif %}{% if __asked_create_secret %}{% set _ = _copier_answers.update({'create_secret': create_secret}) %}{% endif %}{% if __asked_check_sentinel %}{% set _ = _copier_answers.update({'check_sentinel': check_sentinel}) %}{% endif %}{% if __asked_check_elasticache %}{% set _ = _copier_answers.update({'check_elasticache': check_elasticache}) %}{% endif %}{% set _copier_conf = {'answers_file': '.copier-answers.yml'} %}{% if topology == 'sentinel' %}{% with %}"""{{ engine_name }} clients for {{ service_name }} (redis-py): reads through the Service, writes to the master.

Reads go to REDIS_HOST:REDIS_READ_PORT, the Service that spreads connections over
every pod, the master included; a read may therefore lag a write by a little.
Writes go to the master that the majority of sentinels names (REDIS_HOST:REDIS_SENTINEL_PORT,
master set REDIS_MASTER_SET), found again the moment a sentinel announces a failover.
The password (REDIS_PASSWORD) is needed by the sentinels too.

The manifest/components/redis-env component sets these variables on the app's
container. Outside Kubernetes, REDIS_HOST may be a comma-separated list of hosts:
writer() asks each of them, reader() reads from the first that answers.

    from redis_client import reader, writer, write_confirmed
    w = writer()                                   # once per process; w.close() at exit
    w.set("cart:42", "3 items")                    # idempotent: safe to retry
    write_confirmed(writer(retries=0), "INCR", "cart:42:version")  # not idempotent; WAIT-confirmed
    reader().get("cart:42")

How the writer follows a failover (client/python/README.md):
- SwitchWatcher subscribes to `+switch-master` on every sentinel (reconnecting on its
  own); an announcement drops the writer's connections at once and wakes its retries.
- FollowingSentinel asks every sentinel it knows, not the first that answers: a sentinel
  cut off with the old master keeps naming it, while the majority elected a new one
  under a newer config epoch. It follows the newest epoch, and refuses a master that a
  majority reports down.
- The writer treats READONLY (a demoted master) and NOREPLICAS (a master without
  replicas: isolated, or just promoted) as "find the master again", and retries.
"""

from __future__ import annotations

import math
import os
import socket
import threading
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import redis
from redis.backoff import AbstractBackoff
from redis.connection import Connection
from redis.exceptions import ConnectionError, ResponseError, TimeoutError
from redis.retry import Retry
from redis.sentinel import MasterNotFoundError, Sentinel, SentinelManagedConnection

ENV_VARS = ("REDIS_HOST", "REDIS_READ_PORT", "REDIS_SENTINEL_PORT", "REDIS_MASTER_SET", "REDIS_PASSWORD")

# Sentinel waits down-after-milliseconds ({{ down_after_ms }} ms for this {{ engine_name }}) before
# it starts a failover, which then takes a second or two. A write keeps retrying for
# twice that, so a write issued while the master dies lands on the new master. The
# retries wait 10 ms three times, then 20 ms, 40 ms, ... up to 250 ms, and a sentinel's
# announcement of the new master ends the wait at once and starts the steps again (the
# new master refuses writes, NOREPLICAS, until a replica has attached: tens of ms).
FAILOVER_SECONDS = 2 * {{ down_after_ms }} / 1000
BACKOFF_BASE, BACKOFF_CAP = 0.01, 0.25
DEFAULT_RETRIES = math.ceil(FAILOVER_SECONDS / BACKOFF_CAP) + 5
# Replicas a confirmed write waits for: all of them ({{ redis_replicas }} pods), so that
# whichever replica Sentinel promotes holds it.
REPLICAS = {{ redis_replicas - 1 }}
CONFIRM_TIMEOUT_MS = 500
SWITCH_CHANNEL = "+switch-master"  # <set> <old ip> <old port> <new ip> <new port>
DOWN_CHANNEL = "+odown"  # master <set> <ip> <port> #quorum <n>/<q>: a quorum finds it down


@dataclass(frozen=True)
class Settings:
    hosts: tuple[str, ...]
    read_port: int
    sentinel_port: int
    master_set: str
    password: str = field(repr=False)
    socket_timeout: float = 1.0

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        return [(host, self.sentinel_port) for host in self.hosts]


def settings_from_env(environ: Mapping[str, str] = os.environ) -> Settings:
    """Read the settings from `environ` (the process env by default)."""
    missing = [name for name in ENV_VARS if not environ.get(name)]
    if missing:
        raise RuntimeError(f"missing environment variables: {', '.join(missing)}")
    return Settings(
        hosts=tuple(h.strip() for h in environ["REDIS_HOST"].split(",") if h.strip()),
        read_port=int(environ["REDIS_READ_PORT"]),
        sentinel_port=int(environ["REDIS_SENTINEL_PORT"]),
        master_set=environ["REDIS_MASTER_SET"],
        password=environ["REDIS_PASSWORD"],
    )


def _timeouts(settings: Settings) -> dict[str, float]:
    return {"socket_timeout": settings.socket_timeout, "socket_connect_timeout": settings.socket_timeout}


# ----------------------------------------------------------------------- reads
class HostListConnection(Connection):
    """Connects to the first of `hosts` that answers, starting after the last one that failed.

    In a cluster REDIS_HOST is one Service name and this is a plain connection; outside
    one, REDIS_HOST may list the pods, and a read then survives the loss of any of them."""

    def __init__(self, hosts: tuple[str, ...] = (), **kwargs):
        super().__init__(**kwargs)
        self.hosts = hosts or (self.host,)

    def _connect(self):
        error = None
        for _ in self.hosts:
            try:
                return super()._connect()
            except (ConnectionError, TimeoutError, OSError) as exc:
                error = exc
                self.host = self.hosts[(self.hosts.index(self.host) + 1) % len(self.hosts)]
        raise error


def reader(settings: Settings | None = None) -> redis.Redis:
    """A client on the read Service (any pod). Use it for reads only."""
    settings = settings or settings_from_env()
    pool = redis.ConnectionPool(
        connection_class=HostListConnection,
        hosts=settings.hosts,
        host=settings.hosts[0],
        port=settings.read_port,
        password=settings.password,
        retry=Retry(GrowingBackoff(), 3),
        retry_on_error=[ConnectionError, TimeoutError],
        **_timeouts(settings),
    )
    return redis.Redis(connection_pool=pool)


# ---------------------------------------------------- writes: the master to use
def _flags(state: dict) -> set[str]:
    flags = state.get("flags", "")
    return set(flags.split(",")) if isinstance(flags, str) else set(flags)


# "disconnected" is not one: a sentinel names the new master before its own link to it is up.
DOWN_FLAGS = {"s_down", "o_down", "failover_in_progress"}


def choose_master(answers: list[dict], voters: int) -> tuple[str, int]:
    """The master to write to, from the SENTINEL MASTER answers of several sentinels.

    A failover needs the votes of a majority of sentinels and raises the config epoch,
    so the newest epoch among the sentinels that consider their master up names the
    master the majority chose; a sentinel cut off with the old master still names it,
    under an older epoch. A master that a majority of the `voters` reports down (or
    names another master) is refused: writes to it would be lost after the heal."""
    usable = [a for a in answers if not _flags(a) & DOWN_FLAGS]
    if not usable:
        raise MasterNotFoundError("no sentinel names a master that is up")
    newest = max(int(a.get("config-epoch", 0)) for a in usable)
    named = Counter((a["ip"], int(a["port"])) for a in usable if int(a.get("config-epoch", 0)) == newest)
    address = named.most_common(1)[0][0]
    # Answers under an older epoch are outdated, not a vote against (they have not heard
    # of the failover yet); answers as new that name another master or report it down are.
    against = sum(
        1
        for a in answers
        if int(a.get("config-epoch", 0)) >= newest and ((a["ip"], int(a["port"])) != address or _flags(a) & DOWN_FLAGS)
    )
    if against >= voters // 2 + 1:
        raise MasterNotFoundError("a majority of sentinels does not name this master")
    return address


class FollowingSentinel(Sentinel):
    """redis-py's Sentinel, asking every sentinel it knows for the master (choose_master).

    Its peers are learnt from the sentinels themselves (SENTINEL SENTINELS): behind one
    Service name, every pod's sentinel is then asked by its own announced name."""

    def __init__(self, sentinels, **kwargs):
        super().__init__(sentinels, **kwargs)
        self.configured = list(sentinels)
        self.peers: set[tuple[str, int]] = set()
        self._ask_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sentinel-ask")

    def client_for(self, address: tuple[str, int]) -> redis.Redis:
        for client in self.sentinels:
            kwargs = client.connection_pool.connection_kwargs
            if (kwargs["host"], kwargs["port"]) == address:
                return client
        client = redis.Redis(host=address[0], port=address[1], **self.sentinel_kwargs)
        self.sentinels.append(client)
        return client

    def _ask(self, address: tuple[str, int], service_name: str):
        try:
            pipe = self.client_for(address).pipeline(transaction=False)
            pipe.sentinel_master(service_name)
            pipe.sentinel_sentinels(service_name)
            state, peers = pipe.execute()
        except (ConnectionError, TimeoutError, ResponseError):
            return None
        self.peers.update((p["ip"], int(p["port"])) for p in peers)
        return state

    def _answers(self, addresses, service_name: str) -> list[dict]:
        return [a for a in self._ask_pool.map(lambda s: self._ask(s, service_name), addresses) if a]

    def discover_master(self, service_name):
        learning = not self.peers
        asked = sorted(self.peers) or self.configured
        answers = self._answers(asked, service_name)
        if not answers and asked is not self.configured:
            asked = self.configured  # the pods' own names do not answer: the configured ones may
            answers = self._answers(asked, service_name)
        if not answers:
            raise MasterNotFoundError(f"No sentinel answered for {service_name!r}")
        if learning and self.peers and set(asked) != self.peers:
            return self.discover_master(service_name)  # first call behind a Service: ask the pods
        voters = max(int(a.get("num-other-sentinels", 0)) + 1 for a in answers)
        return choose_master(answers, voters)

    def close(self) -> None:
        self._ask_pool.shutdown(wait=False)
        for client in self.sentinels:
            client.close()


# ------------------------------------------------- writes: hearing of a failover
class SwitchWatcher:
    """Listens for `+switch-master` on every sentinel, each in a thread that reconnects.

    on_switch(new_address) runs on every announcement (`<set> <old ip> <old port> <new
    ip> <new port>`, each sentinel sends its own); wait(timeout) returns early when one
    arrives (the retries sleep in it). It also listens for `+odown`: a quorum of
    sentinels finds the master down, a failover is coming; on_down(address) runs then,
    so that a writer stops writing to a master cut off from the majority before the
    election, not after it."""

    RECONNECT_S = 0.2

    def __init__(self, sentinel: FollowingSentinel, master_set: str, on_switch=None):
        self.sentinel, self.master_set, self.on_switch = sentinel, master_set, on_switch
        self.on_down = None
        self.announcements = 0
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._threads: dict[tuple[str, int], threading.Thread] = {}

    def watch(self, addresses) -> SwitchWatcher:
        for address in addresses:
            if address not in self._threads and not self._stop.is_set():
                thread = threading.Thread(target=self._listen, args=(address,), daemon=True, name=f"switch-{address[0]}")
                self._threads[address] = thread
                thread.start()
        return self

    def _listen(self, address: tuple[str, int]) -> None:
        kwargs = dict(self.sentinel.sentinel_kwargs, health_check_interval=2)
        while not self._stop.is_set():
            try:
                with redis.Redis(host=address[0], port=address[1], **kwargs) as client, client.pubsub() as pubsub:
                    pubsub.subscribe(SWITCH_CHANNEL, DOWN_CHANNEL)
                    while not self._stop.is_set():
                        message = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
                        if message:
                            self._heard(message["channel"].decode(), message["data"].decode().split())
            except (ConnectionError, TimeoutError, OSError):
                self._stop.wait(self.RECONNECT_S)

    def _heard(self, channel: str, words: list[str]) -> None:
        if channel == SWITCH_CHANNEL and len(words) == 5 and words[0] == self.master_set:
            self._announced((words[3], int(words[4])))
        elif channel == DOWN_CHANNEL and words[:2] == ["master", self.master_set] and self.on_down:
            self.on_down((words[2], int(words[3])))

    def _announced(self, address: tuple[str, int]) -> None:
        if self.on_switch:
            self.on_switch(address)
        with self._changed:
            self.announcements += 1
            self._changed.notify_all()

    def wait(self, timeout: float) -> None:
        seen = self.announcements
        with self._changed:
            self._changed.wait_for(lambda: self.announcements != seen or self._stop.is_set(), timeout)

    def close(self) -> None:
        self._stop.set()
        with self._changed:
            self._changed.notify_all()


class GrowingBackoff(AbstractBackoff):
    """Back-off: BACKOFF_BASE three times, then doubling up to BACKOFF_CAP, slept in
    watcher.wait(): a failover announcement ends the sleep at once, and the steps start
    again from BACKOFF_BASE after it (the new master may refuse writes for a moment,
    NOREPLICAS, until a replica has attached: poll it closely)."""

    def __init__(self, watcher: SwitchWatcher | None = None, base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP):
        self.watcher, self.base, self.cap = watcher, base, cap
        self._heard, self._since = 0, 0

    def __deepcopy__(self, memo) -> GrowingBackoff:
        return GrowingBackoff(self.watcher, self.base, self.cap)  # every connection copies its retry

    def reset(self) -> None:
        self._heard, self._since = (self.watcher.announcements if self.watcher else 0), 0

    def compute(self, failures: int) -> float:
        if self.watcher is not None and self.watcher.announcements != self._heard:
            self._heard, self._since = self.watcher.announcements, failures - 1
        delay = min(self.cap, self.base * 2 ** max(0, failures - 3 - self._since))
        if self.watcher is None:
            return delay
        self.watcher.wait(delay)
        return 0


class MasterFollowingConnection(SentinelManagedConnection):
    """Asks for the master on every (re)connect, retries included, and treats READONLY
    and NOREPLICAS as "find the master again".

    redis-py's retry reconnects to the address the connection already had, so after a
    failover it could keep retrying the dead master (redis/redis-py#3874). READONLY (a
    demoted master) already becomes a ConnectionError in redis-py; NOREPLICAS (a master
    that lost its replicas: cut off from them, or promoted a moment ago) is made one
    here, so the retry asks the sentinels again instead of failing the write."""

    def _connect(self):
        if self.connection_pool.is_master:
            self.host, self.port = self.connection_pool.get_master_address()
        return super()._connect()

    def read_response(self, *args, **kwargs):
        try:
            return super().read_response(*args, **kwargs)
        except ResponseError as exc:
            if self.connection_pool.is_master and str(exc).startswith("NOREPLICAS"):
                self.disconnect()
                raise ConnectionError("NOREPLICAS: the master has no replica in sync; finding the master again") from exc
            raise


def drop_connections(pool: redis.ConnectionPool) -> None:
    """Drop every connection of the pool to the old master, a command in flight included
    (a hung or cut-off master would hold it for socket_timeout): idle ones are closed; the
    sockets of those in use are only shut down, so the thread reading one gets a
    ConnectionError and its retry reconnects to the new master at once (closing a socket
    under a reading thread's feet would raise ValueError there instead)."""
    pool.disconnect(inuse_connections=False)
    with pool._lock:
        in_use = list(pool._in_use_connections)
    for connection in in_use:
        sock = connection._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Writer(redis.Redis):
    """The writer's redis.Redis; close() also stops its sentinel watcher."""

    watcher: SwitchWatcher | None = None

    def close(self) -> None:
        if self.watcher is not None:
            self.watcher.close()
            self.watcher.sentinel.close()
        super().close()


def writer(settings: Settings | None = None, retries: int = DEFAULT_RETRIES) -> Writer:
    """A client on the current master, found through Sentinel and found again after a failover.

    Create it once per process and reuse it (it keeps a pool of connections and one
    subscription per sentinel); close() it at exit."""
    settings = settings or settings_from_env()
    sentinel = FollowingSentinel(
        settings.sentinels,
        # Sentinels ask for the password too; without it discovery fails with "No master found".
        # No retry on a sentinel: a dead one is skipped for the next instead of retried.
        sentinel_kwargs={"password": settings.password, "retry": None, **_timeouts(settings)},
        password=settings.password,
        **_timeouts(settings),
    )
    watcher = SwitchWatcher(sentinel, settings.master_set)
    client = sentinel.master_for(
        settings.master_set,
        redis_class=Writer,
        connection_class=MasterFollowingConnection,
        retry=Retry(GrowingBackoff(watcher), retries),
        retry_on_error=[ConnectionError, TimeoutError],
    )
    pool = client.connection_pool

    def on_switch(address: tuple[str, int]) -> None:
        if pool.master_address != address:
            drop_connections(pool)

    def on_down(address: tuple[str, int]) -> None:
        # The retries then ask the sentinels, whose majority reports this master down:
        # no write goes to it until they name a master again (this one, or a new one).
        if pool.master_address == address:
            drop_connections(pool)

    watcher.on_switch, watcher.on_down = on_switch, on_down
    client.watcher = watcher.watch(settings.sentinels)
    try:
        sentinel.discover_master(settings.master_set)  # learn the sentinels' own names
    except (ConnectionError, TimeoutError):
        pass  # none answers yet: the first write asks again
    watcher.watch(sorted(sentinel.peers))
    return client


# ------------------------------------------------------------ confirmed writes
class NotConfirmed(redis.RedisError):
    """The write was applied on the master but fewer replicas than asked confirmed it in time."""


def write_confirmed(client: redis.Redis, *command, replicas: int = REPLICAS, timeout_ms: int = CONFIRM_TIMEOUT_MS):
    """Run one write command, then WAIT until `replicas` replicas hold it.

    Returns the command's reply; raises NotConfirmed when fewer replicas confirmed
    within timeout_ms: the write was applied on the master but may still be lost in a
    failover. The pair is retried like any write of `client`: for a write that is not
    idempotent pass a writer(retries=0), so that an error never means "applied twice".

        write_confirmed(writer(retries=0), "INCR", "orders:count")
        write_confirmed(w, "SET", "cart:42", "3 items", replicas=1)
    """
    pipe = client.pipeline(transaction=False)
    pipe.execute_command(*command)
    pipe.execute_command("WAIT", replicas, timeout_ms)
    reply, confirmed = pipe.execute()
    if int(confirmed) < replicas:
        raise NotConfirmed(f"{confirmed} of {replicas} replicas confirmed the write within {timeout_ms} ms")
    return reply


if __name__ == "__main__":
    # python redis_client.py: write a key through the master, read it back through the Service.
    import uuid

    key = f"{{ service_name }}:example:{uuid.uuid4().hex}"
    w = writer()
    write_confirmed(w, "SET", key, "hello", "EX", 60)
    print(f"wrote {key} on the master, confirmed by {REPLICAS} replicas; read back: {reader().get(key)!r}")
    w.close()
{% endwith %}{% elif topology == 'cluster' %}{% with %}"""{{ engine_name }} Cluster client for {{ service_name }} (redis-py RedisCluster).

The keyspace is sharded over {{ cluster_masters }} masters. client() connects to the seed
REDIS_HOST:REDIS_PORT once, reads the slot map and then sends each command to the
master that owns its key's slot, by the pod's stable name; it follows MOVED (a slot now
lives elsewhere) and ASK (a slot being migrated) redirections by itself, and reloads the
slot map after a failover. The password (REDIS_PASSWORD) is needed by every node.

The manifest/components/redis-env component sets these variables on the app's
container. Outside Kubernetes, REDIS_HOST may be a comma-separated list of seed hosts.
Keys used together in one command (MGET, a transaction) must share a slot: put the
common part in braces, {cart:42}:items and {cart:42}:total.

    from redis_client import client
    client().set("cart:42", "3 items")
    client().get("cart:42")
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from redis.backoff import ExponentialBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry

ENV_VARS = ("REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD")

# A master that stops answering is replaced by its replica after cluster-node-timeout
# ({{ cluster_node_timeout_ms }} ms for this {{ engine_name }} Cluster) and an election of a second or so.
# client() keeps retrying for twice that, reloading the slot map on each try, so a write
# issued while a master dies lands on its promoted replica.
# Retrying a write that is not idempotent (INCR, LPUSH) may apply it twice: pass
# retries=0 to client() for those and handle the error yourself.
FAILOVER_SECONDS = 2 * {{ cluster_node_timeout_ms }} / 1000
BACKOFF_CAP, BACKOFF_BASE = 0.5, 0.05
DEFAULT_RETRIES = math.ceil(FAILOVER_SECONDS / BACKOFF_CAP) + 3


@dataclass(frozen=True)
class Settings:
    hosts: tuple[str, ...]
    port: int
    password: str = field(repr=False)
    socket_timeout: float = 1.0

    @property
    def seeds(self) -> list[ClusterNode]:
        return [ClusterNode(host, self.port) for host in self.hosts]


def settings_from_env(environ: Mapping[str, str] = os.environ) -> Settings:
    """Read the settings from `environ` (the process env by default)."""
    missing = [name for name in ENV_VARS if not environ.get(name)]
    if missing:
        raise RuntimeError(f"missing environment variables: {', '.join(missing)}")
    return Settings(
        hosts=tuple(h.strip() for h in environ["REDIS_HOST"].split(",") if h.strip()),
        port=int(environ["REDIS_PORT"]),
        password=environ["REDIS_PASSWORD"],
    )


def client(settings: Settings | None = None, retries: int = DEFAULT_RETRIES) -> RedisCluster:
    """A cluster client: each command goes to the master of its key's slot, found again
    after a failover. Create it once and reuse it: it keeps a pool per node."""
    settings = settings or settings_from_env()
    return RedisCluster(
        startup_nodes=settings.seeds,
        password=settings.password,
        # On a connection error or timeout: back off, reload the slot map, try again.
        retry=Retry(ExponentialBackoff(BACKOFF_CAP, BACKOFF_BASE), retries),
        socket_timeout=settings.socket_timeout,
        socket_connect_timeout=settings.socket_timeout,
    )


if __name__ == "__main__":
    # python redis_client.py: write a key on the master of its slot and read it back.
    import uuid

    key = f"{{ service_name }}:example:{uuid.uuid4().hex}"
    redis_cluster = client()
    redis_cluster.set(key, "hello", ex=60)
    print(f"wrote {key} on {redis_cluster.get_node_from_key(key).name}; read back: {redis_cluster.get(key)!r}")
{% endwith %}{% elif topology == 'elasticache' %}{% with %}"""{{ engine_name }} on ElastiCache for {{ service_name }} (redis-py): writes to the primary, reads from the replicas.

Writes go to REDIS_PRIMARY_HOST, the primary endpoint: ElastiCache points that name at
the new primary after a failover, so reconnecting is all a client has to do. Reads go
to REDIS_READER_HOST, the reader endpoint, spread over the replicas (a read may lag a
write a little). Both use TLS on REDIS_PORT.

There is no password. The app signs in as REDIS_USER with an IAM authentication
token: a SigV4-presigned `connect` request for REDIS_CACHE_NAME in REDIS_AWS_REGION,
signed by botocore with the app's own AWS credentials (its role needs
elasticache:Connect: the Terraform output connect_policy_arn). A token opens
connections for 15 minutes; IAMAuthToken signs a new one every 10.

The manifest/components/redis-env component sets these variables on the app's
container.

    from redis_client import reader, writer
    writer().set("cart:42", "3 items")
    reader().get("cart:42")
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

import botocore.session
import redis
from botocore.model import ServiceId
from botocore.signers import RequestSigner
from redis.backoff import ExponentialBackoff
from redis.credentials import CredentialProvider
from redis.exceptions import ConnectionError, ReadOnlyError, TimeoutError
from redis.retry import Retry

ENV_VARS = (
    "REDIS_PRIMARY_HOST",
    "REDIS_READER_HOST",
    "REDIS_PORT",
    "REDIS_USER",
    "REDIS_CACHE_NAME",
    "REDIS_AWS_REGION",
)

# ElastiCache accepts a token for 15 minutes after it was signed (for new connections;
# an open connection stays signed in). A new one is signed after 10, well before that.
TOKEN_SECONDS = 900
REFRESH_SECONDS = 600

# A Multi-AZ failover promotes a replica and moves the primary endpoint's name to it,
# usually within a minute. writer() keeps retrying that long, reconnecting each time,
# so a write issued while the primary fails lands on the new one. Retrying a write that
# is not idempotent (INCR, LPUSH) may apply it twice: pass retries=0 for those.
FAILOVER_SECONDS = 90
BACKOFF_CAP, BACKOFF_BASE = 1.0, 0.05
DEFAULT_RETRIES = math.ceil(FAILOVER_SECONDS / BACKOFF_CAP) + 3
# A demoted primary answers READONLY until the endpoint's name moves: reconnect then too.
RETRY_ON = [ConnectionError, TimeoutError, ReadOnlyError]


@dataclass(frozen=True)
class Settings:
    primary_host: str
    reader_host: str
    port: int
    user: str
    cache_name: str
    region: str
    ca_certs: str | None = None  # None: the system's CAs, which trust ElastiCache's certificates
    socket_timeout: float = 2.0


def settings_from_env(environ: Mapping[str, str] = os.environ) -> Settings:
    """Read the settings from `environ` (the process env by default)."""
    missing = [name for name in ENV_VARS if not environ.get(name)]
    if missing:
        raise RuntimeError(f"missing environment variables: {', '.join(missing)}")
    if environ.get("REDIS_TLS", "true") != "true":
        raise RuntimeError("REDIS_TLS must be true: ElastiCache requires TLS for IAM authentication")
    return Settings(
        primary_host=environ["REDIS_PRIMARY_HOST"],
        reader_host=environ["REDIS_READER_HOST"],
        port=int(environ["REDIS_PORT"]),
        user=environ["REDIS_USER"],
        cache_name=environ["REDIS_CACHE_NAME"],
        region=environ["REDIS_AWS_REGION"],
        ca_certs=environ.get("REDIS_CA_CERTS") or None,
    )


class IAMAuthToken(CredentialProvider):
    """The (user, token) pair redis-py sends with AUTH on every new connection.

    The token is the URL of a `connect` request for the replication group, presigned by
    botocore's SigV4 signer for the `elasticache` service, without its scheme. It is
    signed again once it is REFRESH_SECONDS old, so a connection opened at any time
    (a reconnect after a failover included) carries a valid one.
    """

    def __init__(
        self,
        user: str,
        cache_name: str,
        region: str,
        session: botocore.session.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.user, self.cache_name, self.region = user, cache_name, region
        self.session = session or botocore.session.get_session()
        self.clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._signed_at = -math.inf

    def sign(self) -> str:
        """A new token, valid for TOKEN_SECONDS."""
        credentials = self.session.get_credentials()
        if credentials is None:
            raise RuntimeError("no AWS credentials found: the app's role signs the IAM token")
        signer = RequestSigner(
            ServiceId("elasticache"),
            self.region,
            "elasticache",
            "v4",
            credentials,
            self.session.get_component("event_emitter"),
        )
        query = urlencode({"Action": "connect", "User": self.user})
        url = signer.generate_presigned_url(
            {
                "method": "GET",
                "url": f"http://{self.cache_name}/?{query}",
                "body": {},
                "headers": {},
                "context": {},
            },
            operation_name="connect",
            expires_in=TOKEN_SECONDS,
            region_name=self.region,
        )
        return url.removeprefix("http://")

    def get_credentials(self) -> tuple[str, str]:
        with self._lock:
            now = self.clock()
            if self._token is None or now - self._signed_at >= REFRESH_SECONDS:
                self._token, self._signed_at = self.sign(), now
            return self.user, self._token


def _client(settings: Settings, host: str, token: IAMAuthToken, retries: int) -> redis.Redis:
    return redis.Redis(
        host=host,
        port=settings.port,
        ssl=True,
        ssl_ca_certs=settings.ca_certs,
        ssl_check_hostname=True,
        credential_provider=token,
        retry=Retry(ExponentialBackoff(BACKOFF_CAP, BACKOFF_BASE), retries),
        retry_on_error=RETRY_ON,
        socket_timeout=settings.socket_timeout,
        socket_connect_timeout=settings.socket_timeout,
    )


def token_for(settings: Settings) -> IAMAuthToken:
    return IAMAuthToken(settings.user, settings.cache_name, settings.region)


def writer(
    settings: Settings | None = None,
    retries: int = DEFAULT_RETRIES,
    token: IAMAuthToken | None = None,
) -> redis.Redis:
    """A client on the primary endpoint: writes, and reads that must see your own writes."""
    settings = settings or settings_from_env()
    return _client(settings, settings.primary_host, token or token_for(settings), retries)


def reader(settings: Settings | None = None, token: IAMAuthToken | None = None) -> redis.Redis:
    """A client on the reader endpoint (the replicas). Use it for reads only."""
    settings = settings or settings_from_env()
    return _client(settings, settings.reader_host, token or token_for(settings), 3)


if __name__ == "__main__":
    # python redis_client.py: write a key on the primary, read it back from a replica.
    import uuid

    key = f"{{ service_name }}:example:{uuid.uuid4().hex}"
    writer().set(key, "hello", ex=60)
    time.sleep(0.1)  # replication is asynchronous
    print(f"wrote {key} on the primary; read back from a replica: {reader().get(key)!r}")
{% endwith %}{% endif -%}
