{#- BigQuery: every bigquery__ implementation of the dispatched macros (docs/warehouses.md,
    "BigQuery"). Types: STRING, INT64, FLOAT64, BOOL, TIMESTAMP (UTC); lists and dicts are
    JSON values (a BigQuery ARRAY cannot hold the JSON null a non-converting element is). -#}

{#- ------------------------------------------------------------------ model text -#}

{#- No delete+insert / append in dbt-bigquery: MERGE. On the attribute tables MERGE on the key
    (one row per key in the model's output, so every target row matches at most one). -#}
{% macro bigquery__incremental_strategy(strategy) -%}
  {{ return('merge') }}
{%- endmacro %}

{#- The daily tables hold many rows per (run, key, day): wide partial rows and value-count
    rows. No unique key: the MERGE only inserts (`ON FALSE`), after replace_run_rows deleted
    this run's rows, which is delete+insert on signals_batch_run as elsewhere. -#}
{% macro bigquery__run_unique_key() -%}
  {{ return(none) }}
{%- endmacro %}

{% macro bigquery__replace_run_rows() -%}
  {%- if is_incremental() -%}
    {%- set loaded_through = signals_batch.loaded_through() -%}
    {%- if loaded_through is not none -%}
      delete from {{ this }} where signals_batch_run = {{ signals_batch.timestamp_literal(loaded_through) }}
    {%- endif -%}
  {%- endif -%}
{%- endmacro %}

{#- As microseconds since 1970 (the timestamp as a query result does not reliably come back as a
    datetime through dbt-bigquery's agate tables). -#}
{% macro bigquery__max_load_tstamp(ledger) -%}
  {%- set result = run_query('select unix_micros(max(load_tstamp)) from ' ~ ledger) -%}
  {%- set micros = result.columns[0].values()[0] -%}
  {%- if micros is none -%}{{ return(none) }}{%- endif -%}
  {{ return(modules.datetime.datetime(1970, 1, 1) + modules.datetime.timedelta(microseconds=micros | int)) }}
{%- endmacro %}

{#- The daily tables: partitioned by event day (the attribute models read day ranges; the
    pre-hook deletes one run's rows), clustered by key; the attribute tables clustered by key
    (MERGE on it). -#}
{% macro bigquery__daily_partition_by() -%}
  {{ return({'field': 'event_day', 'data_type': 'date', 'granularity': 'day'}) }}
{%- endmacro %}

{% macro bigquery__daily_cluster_by() -%}
  {{ return(['signals_key']) }}
{%- endmacro %}

{% macro bigquery__attributes_cluster_by(key_name) -%}
  {{ return([key_name]) }}
{%- endmacro %}

{% macro bigquery__union_distinct() -%}
  union distinct
{%- endmacro %}

{#- Equality is not defined on ARRAY and JSON: compare their JSON text (never NULL). Doubles
    within a tolerance, as everywhere (default__value_changed, portable.sql). -#}
{% macro bigquery__value_changed(new, old, type) -%}
  {%- if type in ('double', 'float') -%}
    {{ signals_batch.double_changed(new, old) }}
  {%- else -%}
  TO_JSON_STRING({{ new }}) != TO_JSON_STRING({{ old }})
  {%- endif -%}
{%- endmacro %}


{#- ------------------------------------------------------------------ literals -#}

{#- A backslash starts an escape sequence and a quoted string cannot hold a newline. -#}
{% macro bigquery__string_literal(value) -%}
  '{{ value | string | replace("\\", "\\\\") | replace("'", "\\'") | replace("\n", "\\n") | replace("\r", "\\r") }}'
{%- endmacro %}

{#- The backslash is LIKE's escape character on BigQuery: every backslash of the pattern is
    escaped, so only % and _ are special. -#}
{% macro bigquery__like(expr, pattern) -%}
  {{ expr }} LIKE {{ signals_batch.string_literal(pattern | replace("\\", "\\\\")) }}
{%- endmacro %}


{#- ------------------------------------------------------------------ values -#}

{#- JSON columns (events_this_run reads every context / unstruct column as JSON); the path's
    keys are double-quoted as JSONPath allows. A scalar is JSON_VALUE's text; an object or an
    array is its compact JSON text (JSON_VALUE reads scalars only). The path as written, then
    (when it differs) with its keys in snake_case: the field names of the BigQuery loader's
    RECORD columns (read as JSON, see "the loader's layout"). -#}
{% macro bigquery__json_text(column, path) -%}
  {%- set snake_path = signals_batch.bigquery_snake_case_path(path) -%}
  {%- if snake_path == path -%}
  {{ signals_batch.bigquery_json_path_text(column, path) }}
  {%- else -%}
  COALESCE({{ signals_batch.bigquery_json_path_text(column, path) }}, {{ signals_batch.bigquery_json_path_text(column, snake_path) }})
  {%- endif -%}
{%- endmacro %}

{#- The object's text is JSON_QUERY's over the document's text: TO_JSON_STRING(JSON_QUERY(..))
    would do on BigQuery, but the emulator the tests run on quotes that text once more. -#}
{% macro bigquery_json_path_text(column, path) -%}
  COALESCE(JSON_VALUE({{ column }}, '{{ path }}'),
           CASE WHEN JSON_TYPE(JSON_QUERY({{ column }}, '{{ path }}')) IN ('object', 'array')
                THEN JSON_QUERY(TO_JSON_STRING({{ column }}), '{{ path }}') END)
{%- endmacro %}

{% macro bigquery__to_number(expr) -%}
  CASE WHEN REGEXP_CONTAINS(CAST({{ expr }} AS STRING), '^(?:{{ signals_batch.number_pattern() }})$')
       THEN SAFE_CAST(REGEXP_REPLACE(CAST({{ expr }} AS STRING), '^[[:space:]]+|[[:space:]]+$', '') AS FLOAT64) END
{%- endmacro %}

{#- Only `YYYY-MM-DD[( |T)HH:MI[:SS[.fraction]]][offset]` text; an offset is applied, text
    without one is UTC. BigQuery reads at most 6 fraction digits and `+HH:MM` offsets: longer
    fractions are cut to microseconds, `+HHMM` gets its colon. -#}
{% macro bigquery__to_timestamp(expr) -%}
  {%- set text = 'TRIM(CAST(' ~ expr ~ ' AS STRING))' -%}
  {%- set stamp = '[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,9})?)?)?' -%}
  {%- set offset = '([[:space:]]*(Z|[+-][0-9]{2}(:?[0-9]{2})?))?' -%}
  CASE WHEN REGEXP_CONTAINS({{ text }}, '^{{ stamp ~ offset }}$')
       THEN SAFE_CAST(REGEXP_REPLACE(REGEXP_REPLACE({{ text }}, '([.][0-9]{6})[0-9]+', '\\1'), '([+-][0-9]{2})([0-9]{2})$', '\\1:\\2') AS TIMESTAMP) END
{%- endmacro %}

{#- ISO day of week (Monday 1), ISO weeks (their Monday, computed from the day of week), dates
    as YYYY-MM-DD; all in UTC. -#}
{% macro bigquery__timestamp_part_text(ts, part) -%}
  {%- if part == 'hour_of_day' -%} CAST(EXTRACT(HOUR FROM {{ ts }}) AS STRING)
  {%- elif part == 'day_of_week' -%} CAST(MOD(EXTRACT(DAYOFWEEK FROM {{ ts }}) + 5, 7) + 1 AS STRING)
  {%- elif part == 'month_of_year' -%} CAST(EXTRACT(MONTH FROM {{ ts }}) AS STRING)
  {%- elif part == 'active_day' -%} CAST(DATE({{ ts }}) AS STRING)
  {%- elif part == 'active_week' -%}
    CAST(DATE_SUB(DATE({{ ts }}), INTERVAL MOD(EXTRACT(DAYOFWEEK FROM {{ ts }}) + 5, 7) DAY) AS STRING)
  {%- elif part == 'active_month' -%} CAST(DATE_TRUNC(DATE({{ ts }}), MONTH) AS STRING)
  {%- else -%} {{ exceptions.raise_compiler_error("unknown date_part " ~ part) }}
  {%- endif -%}
{%- endmacro %}

{#- ARRAY_TO_STRING skips NULL elements (CONCAT would be NULL). -#}
{% macro bigquery__concat_non_null(columns, separator) -%}
  CASE WHEN coalesce({{ columns | join(', ') }}) IS NOT NULL
       THEN ARRAY_TO_STRING([{{ columns | join(', ') }}], {{ signals_batch.string_literal(separator) }}) END
{%- endmacro %}

{#- LEAST / GREATEST are NULL when any argument is. -#}
{% macro bigquery__least_non_null(columns) -%}
  (SELECT MIN(signals_x) FROM UNNEST([{{ columns | join(', ') }}]) AS signals_x)
{%- endmacro %}

{% macro bigquery__greatest_non_null(columns) -%}
  (SELECT MAX(signals_x) FROM UNNEST([{{ columns | join(', ') }}]) AS signals_x)
{%- endmacro %}

{#- float and double are both FLOAT64; lists and dict are JSON. -#}
{% macro bigquery__sql_type(type_name) -%}
  {%- set scalar = {
      'string': 'STRING', 'bytes': 'STRING', 'int32': 'INT64', 'int64': 'INT64',
      'unix_timestamp': 'INT64', 'float': 'FLOAT64', 'double': 'FLOAT64', 'bool': 'BOOL',
      'timestamp': 'TIMESTAMP', 'dict': 'JSON'} -%}
  {%- if type_name.endswith('_list') -%} JSON
  {%- else -%} {{ scalar[type_name] }}
  {%- endif -%}
{%- endmacro %}

{#- A timestamp as unix time: whole seconds, rounded down (also before 1970). -#}
{% macro bigquery__cast_text(expr, type_name) -%}
  {%- if type_name in ('string', 'bytes') -%} {{ expr }}
  {%- elif type_name == 'bool' -%} {{ signals_batch.to_bool(expr) }}
  {%- elif type_name == 'timestamp' -%} {{ signals_batch.to_timestamp(expr) }}
  {%- elif type_name == 'unix_timestamp' -%}
    coalesce({{ signals_batch.text_to_int(expr, type_name) }},
             CAST(FLOOR(UNIX_MICROS({{ signals_batch.to_timestamp(expr) }}) / 1000000) AS INT64))
  {%- elif type_name in ('int32', 'int64') -%} {{ signals_batch.text_to_int(expr, type_name) }}
  {%- else -%} {{ signals_batch.cast_number(signals_batch.to_number(expr), type_name) }}
  {%- endif -%}
{%- endmacro %}

{#- SAFE_CAST reads INT64 text exactly (a leading + cut off first); int32 is range checked. -#}
{% macro bigquery__to_integer(expr, type_name) -%}
  {%- set number = "SAFE_CAST(REGEXP_REPLACE(CAST(" ~ expr ~ " AS STRING), '^[[:space:]]*[+]?|[[:space:]]+$', '') AS INT64)" -%}
  CASE WHEN REGEXP_CONTAINS(CAST({{ expr }} AS STRING), '^(?:{{ signals_batch.integer_pattern() }})$')
  {%- if type_name == 'int32' %} AND {{ number }} BETWEEN -2147483648 AND 2147483647{% endif %}
       THEN {{ number }} END
{%- endmacro %}

{#- ROUND goes half away from zero; out of the type's range is NULL (int32 checked, INT64 by
    SAFE_CAST). -#}
{% macro bigquery__cast_number(expr, type_name) -%}
  {%- if type_name == 'int32' -%}
    {%- set rounded = 'ROUND(ROUND(' ~ expr ~ ', 9))' -%}
    CASE WHEN {{ rounded }} BETWEEN -2147483648 AND 2147483647 THEN SAFE_CAST({{ rounded }} AS INT64) END
  {%- elif type_name in ('int64', 'unix_timestamp') -%}
    SAFE_CAST(ROUND(ROUND({{ expr }}, 9)) AS INT64)
  {%- else -%}
    SAFE_CAST({{ expr }} AS FLOAT64)
  {%- endif -%}
{%- endmacro %}


{#- ------------------------------------------------------------------ aggregates -#}

{#- One sortable text, as on Snowflake: microseconds since 0001-01-01 (18 digits), the
    event_id padded to 64 characters, then the value. -#}
{% macro bigquery__pack_first(tstamp, event_id, value) -%}
  CASE WHEN {{ value }} IS NOT NULL THEN
    LPAD(CAST(TIMESTAMP_DIFF({{ tstamp }}, TIMESTAMP '0001-01-01 00:00:00+00', MICROSECOND) AS STRING), 18, '0')
    || RPAD({{ event_id }}, 64, ' ') || {{ value }} END
{%- endmacro %}

{% macro bigquery__unpack_first(packed) -%}
  SUBSTR({{ packed }}, 83)
{%- endmacro %}

{% macro bigquery__value_by_count(value, count, direction) -%}
  ARRAY_AGG({{ value }} ORDER BY {{ count }} {{ direction | upper }}, {{ value }} ASC LIMIT 1)[OFFSET(0)]
{%- endmacro %}

{#- A JSON array of the values sorted as text, each made the element type (JSON null when it
    does not convert). -#}
{% macro bigquery__sorted_list(value, type_name) -%}
  PARSE_JSON(CONCAT('[', STRING_AGG(COALESCE(TO_JSON_STRING({{ signals_batch.cast_text(value, type_name[:-5]) }}), 'null'), ',' ORDER BY {{ value }}), ']'))
{%- endmacro %}

{% macro bigquery__empty_list(type_name) -%}
  JSON '[]'
{%- endmacro %}

{#- A JSON object {value: count}, keys sorted. -#}
{% macro bigquery__sorted_object(key, value) -%}
  PARSE_JSON(CONCAT('{', STRING_AGG(CONCAT(TO_JSON_STRING({{ key }}), ':', CAST({{ value }} AS STRING)), ',' ORDER BY {{ key }}), '}'))
{%- endmacro %}

{% macro bigquery__empty_object() -%}
  JSON '{}'
{%- endmacro %}

{% macro bigquery__json_literal(value) -%}
  PARSE_JSON({{ signals_batch.string_literal(tojson(value, sort_keys=True)) }})
{%- endmacro %}

{% macro bigquery__seconds_between(start, end) -%}
  (TIMESTAMP_DIFF({{ end }}, {{ start }}, MICROSECOND) / 1000000)
{%- endmacro %}

{% macro bigquery__major_version(expr) -%}
  SPLIT({{ expr }}, '-')[SAFE_OFFSET(0)]
{%- endmacro %}

{% macro bigquery__apply_default(expr, value, type_name) -%}
  {%- if type_name == 'dict' -%}
    CASE WHEN {{ expr }} IS NULL OR TO_JSON_STRING({{ expr }}) = '{}' THEN {{ signals_batch.json_literal(value) }} ELSE {{ expr }} END
  {%- elif type_name.endswith('_list') -%}
    {%- set items = value if value is iterable and value is not string else [value] -%}
    {%- set element = type_name[:-5] -%}
    CASE WHEN {{ expr }} IS NULL OR TO_JSON_STRING({{ expr }}) = '[]'
         THEN PARSE_JSON(CONCAT('[', ARRAY_TO_STRING([{%- for item in items -%}COALESCE(TO_JSON_STRING({{ signals_batch.cast_text(signals_batch.string_literal(item | string | lower if item is sameas true or item is sameas false else item | string), element) }}), 'null'){{ ", " if not loop.last }}{%- endfor -%}], ','), ']'))
         ELSE {{ expr }} END
  {%- else -%}
    coalesce({{ expr }}, {{ signals_batch.cast_text(signals_batch.string_literal(value | string | lower if value is sameas true or value is sameas false else value | string), type_name) }})
  {%- endif -%}
{%- endmacro %}


{#- A TIMESTAMP (UTC) from a naive UTC datetime, as microseconds since 1970: exact, and no
    text for the emulator's SQL translation to misread (tests/bigquery_engine.py). -#}
{% macro bigquery__timestamp_literal(value) -%}
  {%- set delta = value.replace(tzinfo=none) - modules.datetime.datetime(1970, 1, 1) -%}
  TIMESTAMP_MICROS({{ (delta.days * 86400 + delta.seconds) * 1000000 + delta.microseconds }})
{%- endmacro %}


{#- ------------------------------------------------------------------ the loader's layout -#}
{#- Snowplow's BigQuery loader (1.x, and 2.x in its legacy column mode) writes one column per
    FULL schema version: `contexts_com_acme_product_1_0_0`, `contexts_com_acme_product_1_1_0`
    (REPEATED RECORD), `unstruct_event_com_acme_purchase_1_0_2` (RECORD); an event fills at
    most one version's column, the others are NULL (RECORD) or empty arrays (REPEATED). Loader
    2.x writes one RECORD column per MAJOR version (`contexts_com_acme_product_1`). The models
    read a context / unstruct column by its major-version name as JSON: events_this_run (and a
    new group's history) select it as the COALESCE of every column of that major found in the
    table when the model RUNS (adapter.get_columns_in_relation), newest first, so a new minor
    version needs no regeneration. Field names in RECORDs are snake_case (json_text below). -#}

{#- Whether `column` is a context / self-describing event column named by its major version. -#}
{% macro bigquery_is_schema_column(column) -%}
  {{ return(modules.re.match('^(contexts|unstruct_event)_[a-z0-9_]+_[0-9]+$', column | lower) is not none) }}
{%- endmacro %}

{#- The names among `names` that are full versions `<column>_<minor>_<patch>` of the major
    version column `column`, newest first. -#}
{% macro bigquery_version_columns(column, names) -%}
  {%- set pattern = '^' ~ modules.re.escape(column | lower) ~ '_([0-9]+)_([0-9]+)$' -%}
  {%- set found = [] -%}
  {%- for name in names -%}
    {%- set match = modules.re.match(pattern, name | lower) -%}
    {%- if match is not none -%}
      {%- do found.append([match.group(1) | int, match.group(2) | int, name]) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- set newest_first = [] -%}
  {%- for version in found | sort(reverse=true) -%}
    {%- do newest_first.append(version[2]) -%}
  {%- endfor -%}
  {{ return(newest_first) }}
{%- endmacro %}

{#- One column of the events table as JSON, NULL when the event has nothing in it (a STRING
    column holds JSON text; text that is not JSON reads NULL). -#}
{% macro bigquery_column_json(column) -%}
  {%- if column.mode | upper == 'REPEATED' -%}
    {{ return('CASE WHEN ARRAY_LENGTH(' ~ column.name ~ ') > 0 THEN TO_JSON(' ~ column.name ~ ') END') }}
  {%- elif column.dtype | upper in ('RECORD', 'STRUCT') -%}
    {{ return('CASE WHEN ' ~ column.name ~ ' IS NOT NULL THEN TO_JSON(' ~ column.name ~ ') END') }}
  {%- elif column.dtype | upper == 'STRING' -%}
    {{ return('SAFE.PARSE_JSON(' ~ column.name ~ ')') }}
  {%- else -%}
    {{ return(column.name) }}
  {%- endif -%}
{%- endmacro %}

{#- The SQL reading the major version column `column` from the table's columns (`by_name`:
    lower-case name -> column), as JSON: the COALESCE of the column itself (JSON, STRING, or a
    loader 2.x RECORD) and of every full-version column, newest first. -#}
{% macro bigquery_schema_column_sql(column, by_name) -%}
  {%- set parts = [] -%}
  {%- if column | lower in by_name -%}{%- do parts.append(by_name[column | lower]) -%}{%- endif -%}
  {%- for name in signals_batch.bigquery_version_columns(column, by_name.keys()) -%}
    {%- do parts.append(by_name[name | lower]) -%}
  {%- endfor -%}
  {%- if not parts -%}{{ return(column) }}{%- endif -%}
  {%- set sqls = [] -%}
  {%- for part in parts -%}
    {%- do sqls.append(signals_batch.bigquery_column_json(part)) -%}
  {%- endfor -%}
  {%- if sqls | length == 1 -%}{{ return(sqls[0]) }}{%- endif -%}
  {{ return('COALESCE(' ~ sqls | join(', ') ~ ')') }}
{%- endmacro %}

{% macro bigquery__source_columns(relation, columns) -%}
  {%- if not execute -%}{{ return(columns) }}{%- endif -%}
  {%- set needs_lookup = [] -%}
  {%- for column in columns -%}
    {%- if signals_batch.bigquery_is_schema_column(column) -%}{%- do needs_lookup.append(column) -%}{%- endif -%}
  {%- endfor -%}
  {%- if not needs_lookup -%}{{ return(columns) }}{%- endif -%}
  {%- set by_name = {} -%}
  {%- for found in adapter.get_columns_in_relation(relation) -%}
    {%- do by_name.update({found.name | lower: found}) -%}
  {%- endfor -%}
  {%- set result = [] -%}
  {%- for column in columns -%}
    {%- set sql = signals_batch.bigquery_schema_column_sql(column, by_name) if column in needs_lookup else column -%}
    {%- do result.append(column if sql | lower == column | lower else sql ~ ' as ' ~ column) -%}
  {%- endfor -%}
  {{ return(result) }}
{%- endmacro %}

{#- check_source: a major version column is there when the table has it or any of its full
    versions. -#}
{% macro bigquery__source_column_present(column, present) -%}
  {%- if column | lower in present -%}{{ return(true) }}{%- endif -%}
  {{ return(signals_batch.bigquery_is_schema_column(column)
            and signals_batch.bigquery_version_columns(column, present) | length > 0) }}
{%- endmacro %}

{% macro bigquery__missing_column_text(column) -%}
  {%- if signals_batch.bigquery_is_schema_column(column) -%}
    {{ return(column ~ " (nor any " ~ column ~ "_<minor>_<patch> column of Snowplow's BigQuery loader)") }}
  {%- endif -%}
  {{ return(column) }}
{%- endmacro %}

{#- A property path's keys as the loader names RECORD fields: Snowplow's snake_case of the
    schema's field names (`targetUrl` -> `target_url`, `pageURLPath` -> `page_url_path`,
    `a-b` -> `a_b`): `_` between an upper-case run and an upper-case letter followed by a
    lower-case one, `_` between a lower-case letter or digit and an upper-case letter, `-` ->
    `_`, then lower case. -#}
{% macro bigquery_snake_case(key) -%}
  {%- set key = modules.re.sub('([A-Z]+)([A-Z][a-z])', '\\1_\\2', key) -%}
  {%- set key = modules.re.sub('([a-z0-9])([A-Z])', '\\1_\\2', key) -%}
  {{ return(key | replace('-', '_') | lower) }}
{%- endmacro %}

{#- A path `$[0]."targetUrl"[1]."x"` with every quoted key in snake_case. -#}
{% macro bigquery_snake_case_path(path) -%}
  {%- set pieces = path.split('"') -%}
  {%- set result = [] -%}
  {%- for piece in pieces -%}
    {%- do result.append(signals_batch.bigquery_snake_case(piece) if loop.index0 is odd else piece) -%}
  {%- endfor -%}
  {{ return(result | join('"')) }}
{%- endmacro %}
