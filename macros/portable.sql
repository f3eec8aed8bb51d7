{#- Dialect differences of the model text itself (config blocks, set operators, change
    detection): every warehouse but BigQuery keeps the plain SQL / dbt strategy named here;
    BigQuery's implementations are in macros/bigquery.sql. -#}

{#- The dbt incremental strategy of a model: `delete+insert` (daily and attribute tables) or
    `append` (the event id ledger). -#}
{% macro incremental_strategy(strategy) -%}
  {{ return(adapter.dispatch('incremental_strategy', 'signals_batch')(strategy)) }}
{%- endmacro %}

{% macro default__incremental_strategy(strategy) -%}
  {{ return(strategy) }}
{%- endmacro %}


{#- The daily tables' unique key: one row set per run, replaced whole when a run is redone. -#}
{% macro run_unique_key() -%}
  {{ return(adapter.dispatch('run_unique_key', 'signals_batch')()) }}
{%- endmacro %}

{% macro default__run_unique_key() -%}
  {{ return('signals_batch_run') }}
{%- endmacro %}


{#- A pre-hook of the daily tables: where the strategy does not replace this run's rows by
    itself, delete them first. Nothing elsewhere (an empty hook does not run). -#}
{% macro replace_run_rows() -%}
  {{ return(adapter.dispatch('replace_run_rows', 'signals_batch')()) }}
{%- endmacro %}

{% macro default__replace_run_rows() -%}
{%- endmacro %}


{#- A pre-hook of the daily tables. The event-id ledger is written last in every run, so a daily
    table without a ledger beside it holds only rows of runs that never finished (a first run
    that was killed or failed), or the ledger was dropped: either way its rows cannot be told
    apart from this run's. Empty it; this run then rebuilds it from every event. -#}
{% macro clear_without_ledger() -%}
  {%- if is_incremental() and signals_batch.loaded_through() is none -%}
    delete from {{ this }} where true
  {%- endif -%}
{%- endmacro %}


{#- UNION that removes duplicates. -#}
{% macro union_distinct() -%}
  {{ return(adapter.dispatch('union_distinct', 'signals_batch')()) }}
{%- endmacro %}

{% macro default__union_distinct() -%}
  union
{%- endmacro %}


{#- Whether a recomputed value of an attribute of type `type` differs from the stored one,
    NULLs compared as values. A double / float counts as changed only beyond a relative 1e-12
    (docs/semantics-notes.md): a sum is added up from partials, and which partials there are
    depends on which run loaded which events (a full refresh adds one day's events at once,
    nightly runs a run's at a time), so the same events can sum to values that differ in
    their last bits. An infinity or a NULL on one side is a change. -#}
{% macro value_changed(new, old, type=none) -%}
  {{ return(adapter.dispatch('value_changed', 'signals_batch')(new, old, type)) }}
{%- endmacro %}

{% macro default__value_changed(new, old, type) -%}
  {%- if type in ('double', 'float') -%}
    {{ signals_batch.double_changed(new, old) }}
  {%- else -%}
    {{ new }} is distinct from {{ old }}
  {%- endif -%}
{%- endmacro %}

{% macro double_changed(new, old) -%}
  (case when {{ new }} is null or {{ old }} is null then ({{ new }} is null) <> ({{ old }} is null)
        else not ({{ new }} = {{ old }}
                  or (abs({{ new }} - {{ old }}) <= 1e-12 * greatest(abs({{ new }}), abs({{ old }}))
                      and abs({{ new }} - {{ old }}) < 1e300)) end)
{%- endmacro %}


{#- Partitioning / clustering of the generated tables: dbt's `partition_by` / `cluster_by`
    configs, a warehouse's defaults unless the project sets the var (dbt_project.yml `vars:`;
    `none` or `[]` turns one off, as none: dbt-bigquery would write an empty `cluster by` for
    `[]`). Daily tables: `signals_daily_partition_by`, `signals_daily_cluster_by`; attribute
    tables: `signals_attributes_cluster_by`. -#}
{% macro daily_partition_by() -%}
  {%- set value = var('signals_daily_partition_by', adapter.dispatch('daily_partition_by', 'signals_batch')()) -%}
  {{ return(value if value else none) }}
{%- endmacro %}

{% macro default__daily_partition_by() -%}
  {{ return(none) }}
{%- endmacro %}

{% macro daily_cluster_by() -%}
  {%- set value = var('signals_daily_cluster_by', adapter.dispatch('daily_cluster_by', 'signals_batch')()) -%}
  {{ return(value if value else none) }}
{%- endmacro %}

{% macro default__daily_cluster_by() -%}
  {{ return(none) }}
{%- endmacro %}

{#- Snowflake: the daily tables are read by event day ranges; micro-partitions follow it. -#}
{% macro snowflake__daily_cluster_by() -%}
  {{ return(['event_day']) }}
{%- endmacro %}

{#- key_name: the attribute table's key column (the definition's name). -#}
{% macro attributes_cluster_by(key_name) -%}
  {%- set value = var('signals_attributes_cluster_by', adapter.dispatch('attributes_cluster_by', 'signals_batch')(key_name)) -%}
  {{ return(value if value else none) }}
{%- endmacro %}

{% macro default__attributes_cluster_by(key_name) -%}
  {{ return(none) }}
{%- endmacro %}
