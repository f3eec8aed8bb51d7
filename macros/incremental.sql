{#- How runs pick up where the last one stopped (docs/incremental.md). -#}

{#- The newest load_tstamp already processed, or none (first run, full refresh). Every model
    of a run reads the same value: the event id ledger is written after all of them. -#}
{% macro loaded_through() -%}
  {%- if not execute or flags.FULL_REFRESH -%}{{ return(none) }}{%- endif -%}
  {%- set ledger = adapter.get_relation(database=target.database, schema=target.schema,
                                        identifier='signals_batch_event_ids') -%}
  {%- if ledger is none -%}{{ return(none) }}{%- endif -%}
  {{ return(adapter.dispatch('max_load_tstamp', 'signals_batch')(ledger)) }}
{%- endmacro %}

{#- Where this run's scan of the source starts: the newest load time processed minus the
    lookback window, so a row that became visible after the last run with an older load time
    (loaders commit in parallel) still counts; the ledger drops the ids already counted. -#}
{% macro scan_after() -%}
  {%- set through = signals_batch.loaded_through() -%}
  {%- if through is none -%}{{ return(none) }}{%- endif -%}
  {{ return(through - modules.datetime.timedelta(hours=var('signals_lookback_window_hours', 6) | int)) }}
{%- endmacro %}

{#- The newest load_tstamp of the ledger as a naive UTC datetime (none when empty). -#}
{% macro default__max_load_tstamp(ledger) -%}
  {%- set result = run_query('select max(load_tstamp) from ' ~ ledger) -%}
  {{ return(result.columns[0].values()[0]) }}
{%- endmacro %}


{#- The as-of date R: var signals_as_of, else env SIGNALS_BATCH_AS_OF (what signals-batch
    passes), else the UTC date the run started. The env var is read only while executing:
    dbt re-parses the whole project when a --vars value or an env var read at parse time
    changes, and the as-of date changes with every run (seconds of fixed cost a run). -#}
{% macro as_of() -%}
  {%- set value = var('signals_as_of', none) -%}
  {%- if not value and execute -%}
    {%- set value = env_var('SIGNALS_BATCH_AS_OF', '') -%}
  {%- endif -%}
  {%- if value -%}
    {{ return(modules.datetime.datetime.strptime(value | string, '%Y-%m-%d').date()) }}
  {%- endif -%}
  {{ return(run_started_at.date()) }}
{%- endmacro %}


{#- The last day the windows include: the as-of date itself when include_current_day, else
    the day before. -#}
{% macro end_day(as_of=none) -%}
  {%- set as_of = as_of if as_of is not none else signals_batch.as_of() -%}
  {{ return(as_of if signals_batch.include_current_day() else as_of - modules.datetime.timedelta(days=1)) }}
{%- endmacro %}


{% macro start_date() -%}
  {{ return(modules.datetime.datetime.strptime(var('signals_start_date', '1970-01-01') | string, '%Y-%m-%d').date()) }}
{%- endmacro %}


{% macro include_current_day() -%}
  {%- set value = var('signals_include_current_day', false) -%}
  {{ return(value in (true, 'true', 'True', 1, '1')) }}
{%- endmacro %}


{#- Whether a group's models are rebuilt from scratch in this run (--full-refresh --select). -#}
{% macro rebuild_requested(group_ident) -%}
  {%- set groups = var('signals_rebuild_groups', []) -%}
  {{ return(group_ident in groups) }}
{%- endmacro %}


{#- The attribute tables use delete+insert on the key: the model's rows replace the target's
    rows of the same key. Unchanged keys are not among the model's rows, so their updated_at
    stays. A key that no longer has a row comes back with a NULL updated_at (from an
    incremental run, or a full refresh over the table it replaces), and goes here, after
    record_removed_keys has noted it for the sync. -#}
{% macro drop_removed_keys() -%}
    delete from {{ this }} where updated_at is null
{%- endmacro %}
