"""Integrations with schedulers; each one is an optional extra (e.g. `signals-batch[airflow]`).

Nothing is imported here: `signals_batch.integrations.airflow` needs Apache Airflow.
"""
