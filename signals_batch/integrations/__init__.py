"""Integrations with schedulers; each one is an optional extra (`pip install -e '.[airflow]'`).

Nothing is imported here: `signals_batch.integrations.airflow` needs Apache Airflow.
"""
