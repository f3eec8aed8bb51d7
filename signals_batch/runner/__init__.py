"""dbt invocations (dbtRunner), profiles and progress."""
