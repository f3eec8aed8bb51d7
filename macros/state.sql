{#- One row per attribute table: what its last successful run used. Read by the next run to
    find the keys whose windows moved, and by `signals-batch status`. -#}

{% macro state_relation() -%}
  {{ return(api.Relation.create(database=target.database, schema=target.schema,
                                identifier='signals_batch_state')) }}
{%- endmacro %}


{% macro previous_run(model_name) -%}
  {%- if not execute -%}{{ return(none) }}{%- endif -%}
  {%- set state = adapter.get_relation(database=target.database, schema=target.schema,
                                       identifier='signals_batch_state') -%}
  {%- if state is none -%}{{ return(none) }}{%- endif -%}
  {%- set result = run_query("select as_of, settings from " ~ state ~ " where model = "
                             ~ signals_batch.string_literal(model_name)) -%}
  {%- if result.rows | length == 0 -%}{{ return(none) }}{%- endif -%}
  {{ return({'as_of': result.rows[0][0] | string, 'settings': result.rows[0][1]}) }}
{%- endmacro %}


{% macro settings_fingerprint() -%}
  {{ return('start_date=' ~ signals_batch.start_date() ~ ';include_current_day='
            ~ signals_batch.include_current_day()) }}
{%- endmacro %}


{% macro record_run(model_name, key) -%}
  {{ return(adapter.dispatch('record_run', 'signals_batch')(model_name, key)) }}
{%- endmacro %}

{% macro default__record_run(model_name, key) -%}
  {%- set state = signals_batch.state_relation() -%}
  create table if not exists {{ state }} (
    model {{ dbt.type_string() }}, as_of DATE, settings {{ dbt.type_string() }},
    run_started_at {{ signals_batch.sql_type('timestamp') }},
    row_count BIGINT, changed_count BIGINT);
  delete from {{ state }} where model = {{ signals_batch.string_literal(model_name) }};
  insert into {{ state }}
  select {{ signals_batch.string_literal(model_name) }},
         {{ signals_batch.date_literal(signals_batch.as_of()) }},
         {{ signals_batch.string_literal(signals_batch.settings_fingerprint()) }},
         {{ signals_batch.run_started_literal() }},
         count(*),
         count(case when updated_at = {{ signals_batch.run_started_literal() }} then 1 end)
  from {{ this }};
{%- endmacro %}


{#- run_started_at as a naive UTC timestamp literal: the updated_at of changed rows. -#}
{% macro run_started_literal() -%}
  {{ return(signals_batch.timestamp_literal(run_started_at.replace(tzinfo=none))) }}
{%- endmacro %}
