"""signals-batch: Snowplow Signals batch attributes, computed in the warehouse with dbt."""

__version__ = "0.1.0"
