-- value_changed on a double attribute: whether a recomputed value counts as a change of the
-- stored one (docs/semantics-notes.md, "sum / mean of numbers"): beyond a relative 1e-12,
-- on every warehouse (a sum's last bits depend on how its partials were grouped).
{%- set double = signals_batch.sql_type('double') %}
select case_name,
       case when {{ signals_batch.value_changed('CAST(recomputed AS ' ~ double ~ ')', 'CAST(stored AS ' ~ double ~ ')', 'double') }}
            then 'changed' else 'same' end as actual,
       changed_beyond_1e_12 as expected
from {{ ref('change_cases') }}
