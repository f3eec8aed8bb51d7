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


{#- definition: the digest of the group's definition (GroupPlan.definition_hash), kept after
    the settings; signals-batch rebuilds a group whose definition changed since. -#}
{% macro record_run(model_name, definition=none) -%}
  {{ return(signals_batch.write_state_row(model_name,
            signals_batch.settings_fingerprint() ~ (';definition=' ~ definition if definition else ''),
            "count(case when updated_at = " ~ signals_batch.run_started_literal() ~ " then 1 end)")) }}
{%- endmacro %}


{#- The attribute table a full refresh replaces, when it was built from the same definition
    (the same columns): the full refresh keeps the updated_at of the rows whose values it
    leaves as they were (SEMANTICS.md section 6: updated_at is when the values last changed),
    so the next sync resends only what changed. None on a first build, or when the definition
    changed since the last run. -#}
{% macro replaced_attributes(model_name, definition) -%}
  {{ return(adapter.dispatch('replaced_attributes', 'signals_batch')(model_name, definition)) }}
{%- endmacro %}

{% macro default__replaced_attributes(model_name, definition) -%}
  {%- if not execute -%}{{ return(none) }}{%- endif -%}
  {%- set previous = signals_batch.previous_run(model_name) -%}
  {%- if previous is none or signals_batch.recorded_definition(previous.settings) != definition -%}
    {{ return(none) }}
  {%- endif -%}
  {{ return(load_relation(this)) }}
{%- endmacro %}


{#- BigQuery: dbt-bigquery drops the table before a full refresh builds it when it sees another
    partitioning or clustering (the emulator of the tests, every time), so the query cannot
    read it: a full refresh there gives every row a new updated_at. -#}
{% macro bigquery__replaced_attributes(model_name, definition) -%}
  {{ return(none) }}
{%- endmacro %}


{#- The settings part of a state row's `settings` (without the definition digest). -#}
{% macro recorded_settings(settings) -%}
  {{ return(settings.split(';definition=')[0]) }}
{%- endmacro %}

{#- The definition digest of a state row's `settings` (none when it has none). -#}
{% macro recorded_definition(settings) -%}
  {%- set parts = settings.split(';definition=') -%}
  {{ return(parts[1] if parts | length > 1 else none) }}
{%- endmacro %}

{#- changed_sql: how many rows this run wrote (an aggregate over the model's table). -#}
{% macro create_state_table() -%}
  create table if not exists {{ signals_batch.state_relation() }} (
    model {{ dbt.type_string() }}, as_of DATE, settings {{ dbt.type_string() }},
    run_started_at {{ signals_batch.sql_type('timestamp') }},
    row_count BIGINT, changed_count BIGINT);
{%- endmacro %}


{#- Keys leaving an attribute table (the as-of date moved back before their first event, a
    rebuild after start_date moved or events were deleted) must leave the Profiles Store too:
    a sync only sends rows whose updated_at is newer than its watermark, so the run notes
    when it removed keys, in a state row `<group>:keys_removed` (run_started_at; row_count =
    how many, NULL when it cannot tell), and the next sync of the group reconciles the store
    with the whole table. Runs before drop_removed_keys. A rebuild that could not compare
    with the table it replaced (a changed definition, BigQuery) notes it always: any key may
    have left; a first build has nothing to remove. -#}
{% macro record_removed_keys(model_name, definition) -%}
  {%- set state = signals_batch.state_relation() -%}
  {%- set marker = signals_batch.string_literal(model_name ~ ':keys_removed') -%}
  {{ signals_batch.create_state_table() }}
  {%- if not is_incremental() and signals_batch.replaced_attributes(model_name, definition) is none %}
    {%- if signals_batch.previous_run(model_name) is none -%}{{ return('') }}{%- endif %}
  delete from {{ state }} where model = {{ marker }};
  insert into {{ state }}
  select {{ marker }}, {{ signals_batch.date_literal(signals_batch.as_of()) }}, '',
         {{ signals_batch.run_started_literal() }}, CAST(NULL AS BIGINT), CAST(NULL AS BIGINT);
  {%- else %}
  delete from {{ state }} where model = {{ marker }}
    and exists (select 1 from {{ this }} where updated_at is null);
  insert into {{ state }}
  select {{ marker }}, {{ signals_batch.date_literal(signals_batch.as_of()) }}, '',
         {{ signals_batch.run_started_literal() }}, count(*), CAST(NULL AS BIGINT)
  from {{ this }} where updated_at is null
  having count(*) > 0;
  {%- endif %}
{%- endmacro %}


{#- Rows of the atomic events table that can never count: no event_id or no load_tstamp
    (old Snowplow history loaded before load_tstamp existed, a broken loader). Counted by a run
    that reads every row anyway (first run, full refresh), from start_date on, into a state
    row `signals_batch_events:unusable` that signals-batch turns into a notice; any other run
    clears it. -#}
{% macro record_unusable_events(relation) -%}
  {%- set state = signals_batch.state_relation() -%}
  {%- set marker = signals_batch.string_literal('signals_batch_events:unusable') -%}
  {{ signals_batch.create_state_table() }}
  delete from {{ state }} where model = {{ marker }};
  {%- if signals_batch.loaded_through() is none %}
  insert into {{ state }}
  select {{ marker }}, {{ signals_batch.date_literal(signals_batch.as_of()) }}, '',
         {{ signals_batch.run_started_literal() }}, count(*), CAST(NULL AS BIGINT)
  from {{ relation }}
  where (event_id is null or load_tstamp is null)
    and {{ signals_batch.to_date('derived_tstamp') }} >= {{ signals_batch.date_literal(signals_batch.start_date()) }}
  having count(*) > 0;
  {%- endif %}
{%- endmacro %}


{% macro write_state_row(model_name, settings, changed_sql) -%}
  {%- set state = signals_batch.state_relation() -%}
  {{ signals_batch.create_state_table() }}
  delete from {{ state }} where model = {{ signals_batch.string_literal(model_name) }};
  insert into {{ state }}
  select {{ signals_batch.string_literal(model_name) }},
         {{ signals_batch.date_literal(signals_batch.as_of()) }},
         {{ signals_batch.string_literal(settings) }},
         {{ signals_batch.run_started_literal() }},
         count(*),
         {{ changed_sql }}
  from {{ this }};
{%- endmacro %}


{#- ------------------------------------------------------------------ lifetime state

    `<group>_lifetime` holds, per key, the daily partials of the group's lifetime attributes
    combined over every day from start_date to the window end ("through") of the run that
    last wrote it, from the daily rows of the runs that had finished by then: the rows tagged
    with an earlier load time than the run's own ("absorbed_before"), or untagged (history).
    Rows of finished runs never change, so a run that fails after writing it and is redone
    absorbs nothing twice. Its marker is a row of the state table. -#}

{% macro lifetime_settings(absorbed_before) -%}
  {{ return(signals_batch.settings_fingerprint() ~ ';absorbed_before='
            ~ (absorbed_before.strftime('%Y-%m-%d %H:%M:%S.%f') if absorbed_before is not none else 'none')) }}
{%- endmacro %}


{#- What the lifetime model of a group does in this run (`loaded_through`: the run's
    ledger position): {'rebuild': true} (from every
    absorbable daily row) or {'rebuild': false, 'absorbed_before': ..., 'through': ...} (add
    the rows finished since). It is rebuilt when it is new, when no run finished (no ledger),
    when the settings changed, when the window end moved back before what it holds, or when
    its daily table was rebuilt (the daily model forgets the marker then). -#}
{% macro lifetime_plan(group_ident, loaded_through) -%}
  {%- set plan = {'rebuild': true, 'absorbed_before': none, 'through': none} -%}
  {%- set marker = signals_batch.previous_run(group_ident ~ '_lifetime') if is_incremental() else none -%}
  {%- if marker is not none and loaded_through is not none -%}
    {%- set prefix = signals_batch.settings_fingerprint() ~ ';absorbed_before=' -%}
    {%- set through = signals_batch.end_day(modules.datetime.datetime.strptime(marker.as_of, '%Y-%m-%d').date()) -%}
    {%- if marker.settings.startswith(prefix) and through <= signals_batch.end_day() -%}
      {%- set text = marker.settings[prefix | length:] -%}
      {%- do plan.update({'rebuild': false, 'through': through,
                          'absorbed_before': none if text == 'none' else modules.datetime.datetime.strptime(text, '%Y-%m-%d %H:%M:%S.%f')}) -%}
    {%- endif -%}
  {%- endif -%}
  {{ return(plan) }}
{%- endmacro %}


{#- Whether the attribute model may read the lifetime state: written for this run's ledger
    position (`loaded_through`; none: no ledger, every daily row absorbed) through this run's
    window end. -#}
{% macro lifetime_state_ready(group_ident, loaded_through) -%}
  {%- set marker = signals_batch.previous_run(group_ident ~ '_lifetime') -%}
  {{ return(marker is not none
            and marker.as_of == signals_batch.as_of() | string
            and marker.settings == signals_batch.lifetime_settings(loaded_through)) }}
{%- endmacro %}


{#- Pre-hook of the lifetime model: a rebuild into the existing table empties it first. -#}
{% macro clear_lifetime_state(group_ident) -%}
  {%- if is_incremental() and signals_batch.lifetime_plan(group_ident, signals_batch.loaded_through()).rebuild -%}
    delete from {{ this }} where true
  {%- endif -%}
{%- endmacro %}


{#- Post-hook of the lifetime model: its marker. -#}
{% macro record_lifetime_state(group_ident) -%}
  {{ return(signals_batch.write_state_row(group_ident ~ '_lifetime',
            signals_batch.lifetime_settings(signals_batch.loaded_through()),
            'CAST(NULL AS BIGINT)')) }}
{%- endmacro %}


{#- Pre-hook of the daily models: when a daily table is rebuilt (or emptied, without a
    ledger), the lifetime state built from its old rows no longer matches their tags. -#}
{% macro forget_lifetime_state(group_ident) -%}
  {%- if execute and (not is_incremental() or signals_batch.loaded_through() is none) -%}
    {%- set state = adapter.get_relation(database=target.database, schema=target.schema,
                                         identifier='signals_batch_state') -%}
    {%- if state is not none -%}
      delete from {{ state }} where model = {{ signals_batch.string_literal(group_ident ~ '_lifetime') }}
    {%- endif -%}
  {%- endif -%}
{%- endmacro %}


{#- run_started_at as a naive UTC timestamp literal: the updated_at of changed rows. -#}
{% macro run_started_literal() -%}
  {{ return(signals_batch.timestamp_literal(run_started_at.replace(tzinfo=none))) }}
{%- endmacro %}
