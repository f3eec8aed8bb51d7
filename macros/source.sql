{#- Before any SQL runs against the atomic events table: it exists and has every column the
    definitions use, or the run stops with one message saying what is missing and why. -#}

{% macro check_source(relation, required_columns) -%}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {%- set name = relation.schema ~ "." ~ relation.identifier ~ " (database " ~ relation.database ~ ")" -%}
  {%- set found = adapter.get_relation(database=relation.database, schema=relation.schema,
                                       identifier=relation.identifier) -%}
  {%- if found is none -%}
    {{ exceptions.raise_compiler_error(
        "[invalid input] source table " ~ name ~ " not found: load the atomic events there, "
        ~ "or set `source` in signals_batch.yml (or SIGNALS_BATCH_SOURCE) to the table that "
        ~ "holds them") }}
  {%- endif -%}
  {%- set present = adapter.get_columns_in_relation(found) | map(attribute='name') | map('lower') | list -%}
  {%- set missing = [] -%}
  {%- set needed_by = {'definitions': false, 'core': false} -%}
  {%- for column, users in required_columns.items() -%}
    {%- if not signals_batch.source_column_present(column, present) -%}
      {%- do missing.append(signals_batch.missing_column_text(column) ~ " (used by " ~ users | join(", ") ~ ")") -%}
      {%- for user in users -%}
        {%- do needed_by.update({'core' if user == 'signals-batch' else 'definitions': true}) -%}
      {%- endfor -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if missing -%}
    {#- a column every run reads (event_id, load_tstamp, ...) missing: not the atomic events -#}
    {%- set fixes = [] -%}
    {%- if needed_by.core -%}
      {%- do fixes.append("point `source` in signals_batch.yml (or SIGNALS_BATCH_SOURCE) at "
          ~ "Snowplow's atomic events table (event_id, load_tstamp, derived_tstamp, ...)") -%}
    {%- endif -%}
    {%- if needed_by.definitions -%}
      {%- do fixes.append("check the property names in the definitions, or that events with "
          ~ "that schema have been loaded") -%}
    {%- endif -%}
    {%- set advice = fixes | join("; ") -%}
    {{ exceptions.raise_compiler_error(
        "[invalid input] source table " ~ name ~ " has no column " ~ missing | join("; ")
        ~ ". " ~ advice[0] | upper ~ advice[1:]) }}
  {%- endif -%}
  {{ return('') }}
{%- endmacro %}


{#- Whether the events table has what the models read as `column` (`present`: its column
    names, lower case). BigQuery: in bigquery.sql. -#}
{% macro source_column_present(column, present) -%}
  {{ return(adapter.dispatch('source_column_present', 'signals_batch')(column, present)) }}
{%- endmacro %}

{% macro default__source_column_present(column, present) -%}
  {{ return(column | lower in present) }}
{%- endmacro %}


{#- How a missing column is named in check_source's error. -#}
{% macro missing_column_text(column) -%}
  {{ return(adapter.dispatch('missing_column_text', 'signals_batch')(column)) }}
{%- endmacro %}

{% macro default__missing_column_text(column) -%}
  {{ return(column) }}
{%- endmacro %}
