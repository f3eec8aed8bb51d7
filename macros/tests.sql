{#- Generic tests used by the generated schema.yml. -#}

{% test non_negative(model, column_name) %}
select {{ column_name }} from {{ model }} where {{ column_name }} < 0
{% endtest %}


{#- Source rows that no incremental run will ever read: loaded (load_tstamp) before where the
    next run starts reading (the newest load time processed minus the lookback window), yet
    not in the event id ledger, because they became visible (committed by a slow loader) after
    the run that read their load time. Only a full refresh counts them. Rows loaded before
    start_date are left out: their events are older still, and never count. -#}
{% test events_counted(model) %}
  {%- set events = source('signals_batch', 'events') -%}
  {%- set scan_start = signals_batch.scan_after() if execute else none -%}
  {%- if scan_start is none %}
select event_id, load_tstamp from {{ model }} where 1 = 0
  {%- else %}
select events.event_id, events.load_tstamp
from {{ events }} as events
where {{ signals_batch.load_window(none, scan_start) }}
  and events.load_tstamp >= {{ signals_batch.timestamp_literal(modules.datetime.datetime.combine(signals_batch.start_date(), modules.datetime.time())) }}
  and not exists (
      select 1 from {{ model }} as seen
      where seen.event_id = {{ signals_batch.ledger_event_id('events.event_id') }}
  )
  {%- endif %}
{% endtest %}
