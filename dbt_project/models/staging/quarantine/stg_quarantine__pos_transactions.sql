-- Quarantined pos transactions rows up to run_date: when and why, never the raw text.
{{ quarantined_rows('pos', 'transactions') }}
