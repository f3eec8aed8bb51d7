{#- Reading the atomic events table: one row per event_id (its earliest load), with the
    event day and the major version every model matches on. -#}

{% macro ledger_relation() -%}
  {{ return(adapter.get_relation(database=target.database, schema=target.schema,
                                 identifier='signals_batch_event_ids')) }}
{%- endmacro %}


{#- What the ledger stores for an event_id. DuckDB: a UUID (16 bytes, compared as one number:
    the anti-join of every run reads the whole ledger, and strings made it twice as slow):
    the id itself when it is a UUID written the canonical way (lower case, with hyphens) whose
    variant is not the reserved 111x (e, f: no UUID generator makes those), else its MD5 as a
    UUID with that variant digit set to f. The two kinds never meet, so two different ids share
    a value only if their MD5s do (it was possible before: the MD5 of `evt-1` written as a UUID
    is itself a canonical UUID). Elsewhere: the id. -#}
{% macro ledger_event_id(expression) -%}
  {{ return(adapter.dispatch('ledger_event_id', 'signals_batch')(expression)) }}
{%- endmacro %}

{% macro default__ledger_event_id(expression) -%}
  {{ return(expression) }}
{%- endmacro %}

{% macro duckdb__ledger_event_id(expression) -%}
  {%- set text = 'CAST(' ~ expression ~ ' AS VARCHAR)' -%}
  {%- set hashed = 'md5(' ~ text ~ ')' -%}
  {{ return('(case when CAST(TRY_CAST(' ~ text ~ ' AS UUID) AS VARCHAR) = ' ~ text
            ~ ' and substr(' ~ text ~ ', 20, 1) not in (\'e\', \'f\')'
            ~ ' then TRY_CAST(' ~ text ~ ' AS UUID)'
            ~ ' else CAST(substr(' ~ hashed ~ ', 1, 16) || \'f\' || substr(' ~ hashed ~ ', 18) AS UUID) end)') }}
{%- endmacro %}


{#- A pre-hook of the new-events model: a DuckDB ledger written by an earlier build holds the
    ids as text; convert it in place (once) to what ledger_event_id stores now, keeping every
    processed id. Nothing elsewhere (an empty hook does not run). -#}
{% macro upgrade_ledger() -%}
  {{ return(adapter.dispatch('upgrade_ledger', 'signals_batch')()) }}
{%- endmacro %}

{% macro default__upgrade_ledger() -%}
{%- endmacro %}

{% macro duckdb__upgrade_ledger() -%}
  {%- set ledger = signals_batch.ledger_relation() if execute else none -%}
  {%- if ledger is not none -%}
    {%- set event_id = adapter.get_columns_in_relation(ledger) | selectattr('name', 'equalto', 'event_id') | first -%}
    {%- if event_id is defined and event_id.dtype | upper != 'UUID' -%}
      alter table {{ ledger }} alter event_id set data type UUID using {{ signals_batch.ledger_event_id('event_id') }}
    {%- endif -%}
  {%- endif -%}
{%- endmacro %}


{#- after: only rows loaded after this instant, minus event_ids already in the ledger
    (this run's new events); through: only rows loaded up to this instant (history). -#}
{% macro deduplicated_events(relation, columns, after=none, through=none) -%}
  {{ return(adapter.dispatch('deduplicated_events', 'signals_batch')(relation, columns, after, through)) }}
{%- endmacro %}

{#- DuckDB: when the events are a table, rank only the narrow ordering columns of each
    event_id and read the winning rows back by rowid. The window over every column (the
    default) costs three times as much on wide rows with JSON. A view (e.g. over Parquet) has
    no rowid: the default then. -#}
{% macro duckdb__deduplicated_events(relation, columns, after, through) -%}
  {%- set found = adapter.get_relation(database=relation.database, schema=relation.schema,
                                       identifier=relation.identifier) if execute else none -%}
  {%- if found is none or not found.is_table -%}
    {{ return(signals_batch.default__deduplicated_events(relation, columns, after, through)) }}
  {%- endif -%}
  {%- set passthrough = columns | reject('in', ['derived_tstamp', 'load_tstamp', 'collector_tstamp']) | list -%}
with winners as (
    select arg_min(rowid, (load_tstamp, derived_tstamp, collector_tstamp)) as signals_row
    from {{ relation }}
    where {{ signals_batch.load_window(after, through) }}
    group by event_id
)

select
    {{ passthrough | join(',\n    ') }},
    {{ signals_batch.event_columns() }}
from {{ relation }} as events
where {{ signals_batch.load_window(after, through) }}
  and rowid in (select signals_row from winners)
{%- if after is not none %}
  and not exists (
      select 1 from {{ signals_batch.ledger_relation() }} as seen
      where seen.event_id = {{ signals_batch.ledger_event_id('events.event_id') }}
  )
{%- endif %}
{%- endmacro %}


{#- The select list of the events table's columns: each column as it is, or (BigQuery) an
    expression named like the column (a context / unstruct column read from the loader's
    per-version columns). -#}
{% macro source_columns(relation, columns) -%}
  {{ return(adapter.dispatch('source_columns', 'signals_batch')(relation, columns)) }}
{%- endmacro %}

{% macro default__source_columns(relation, columns) -%}
  {{ return(columns) }}
{%- endmacro %}


{#- The rows a run reads: with an event_id and a load time, loaded after / through. -#}
{% macro load_window(after, through) -%}
event_id is not null and load_tstamp is not null
    {%- if after is not none %}
      and load_tstamp > {{ signals_batch.timestamp_literal(after) }}
    {%- endif %}
    {%- if through is not none %}
      and load_tstamp <= {{ signals_batch.timestamp_literal(through) }}
    {%- endif %}
{%- endmacro %}


{#- The timestamps as the warehouse's timestamp type, the event day and major version. -#}
{% macro event_columns() -%}
CAST(load_tstamp AS {{ signals_batch.sql_type('timestamp') }}) as load_tstamp,
    CAST(collector_tstamp AS {{ signals_batch.sql_type('timestamp') }}) as collector_tstamp,
    CAST(derived_tstamp AS {{ signals_batch.sql_type('timestamp') }}) as derived_tstamp,
    {{ signals_batch.to_date('derived_tstamp') }} as event_day,
    {{ signals_batch.major_version('event_version') }} as event_major
{%- endmacro %}

{% macro default__deduplicated_events(relation, columns, after, through) -%}
  {%- set passthrough = columns | reject('in', ['derived_tstamp', 'load_tstamp', 'collector_tstamp']) | list -%}
with candidates as (
    select {{ signals_batch.source_columns(relation, columns) | join(', ') }}
    from {{ relation }}
    where {{ signals_batch.load_window(after, through) }}
),

ranked as (
    select
        candidates.*,
        row_number() over (
            partition by event_id order by load_tstamp, derived_tstamp, collector_tstamp
        ) as signals_copy
    from candidates
)

select
    {{ passthrough | join(',\n    ') }},
    {{ signals_batch.event_columns() }}
from ranked
where signals_copy = 1
{%- if after is not none %}
  and not exists (
      select 1 from {{ signals_batch.ledger_relation() }} as seen
      where seen.event_id = {{ signals_batch.ledger_event_id('ranked.event_id') }}
  )
{%- endif %}
{%- endmacro %}
