-- to_number: which text is a number (docs/semantics-notes.md, "Is a number").
select case_name,
       {{ signals_batch.to_number('input') }} as actual,
       CAST(expected AS {{ signals_batch.sql_type('double') }}) as expected
from {{ ref('number_cases') }}
