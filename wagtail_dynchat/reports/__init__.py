"""Reports: daily rollups of conversation events (:mod:`.rollup`), the query API report views
read (:mod:`.metrics`), retention (:mod:`.retention`) and privacy requests (:mod:`.privacy`)."""
