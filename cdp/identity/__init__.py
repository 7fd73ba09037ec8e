"""Identity resolution helpers outside dbt: training the match model (the dbt models build the view)."""
