{#- Every row's `actual` is `expected` (NULL matching NULL); the failing cases are the rows
    returned, with their names. -#}
{% test matches_expected(model) %}
select case_name, actual, expected
from {{ model }}
where actual is distinct from expected
{% endtest %}

{#- The model has cases at all (a model that read no case would pass vacuously). -#}
{% test has_cases(model) %}
select 1 as no_cases
from (select count(*) as n from {{ model }}) as counted
where n = 0
{% endtest %}
