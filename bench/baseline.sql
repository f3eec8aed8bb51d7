-- Hand-written DuckDB baseline for the benchmark group `bench_user` (bench/definitions.py):
-- what an analyst would write to compute the same 11 attributes from atomic.events in one
-- statement, with the semantics of SEMANTICS.md (each event_id counted once, from its earliest
-- load; event day = UTC date of derived_tstamp; windows R-n .. R-1; key NULL / '' ignored).
--
-- Placeholders (@name, filled in by bench/run_bench.py):
--   @target      table to create                 @source      the atomic events table
--   @start_date  first event day that counts     @end_day     R - 1 (last day of every window)
--   @day_7       R - 7 (first day of P7D)        @day_30      R - 30 (first day of P30D)

CREATE OR REPLACE TABLE @target AS
WITH deduplicated AS (
    SELECT
        event_id, event_vendor, event_name, event_version, derived_tstamp, domain_userid,
        geo_country, mkt_source, contexts_nl_basjes_yauaa_context_1,
        contexts_com_acme_product_1, unstruct_event_com_acme_purchase_1,
        unstruct_event_com_snowplowanalytics_snowplow_link_click_1
    FROM @source
    WHERE event_id IS NOT NULL AND load_tstamp IS NOT NULL
    QUALIFY row_number() OVER (
        PARTITION BY event_id ORDER BY load_tstamp, derived_tstamp, collector_tstamp
    ) = 1
),

events AS (
    SELECT
        domain_userid,
        event_id,
        derived_tstamp,
        CAST(derived_tstamp AS DATE) AS event_day,
        event_vendor = 'com.snowplowanalytics.snowplow' AND event_name = 'page_view' AS is_page_view,
        event_vendor = 'com.snowplowanalytics.snowplow' AND event_name = 'link_click' AS is_link_click,
        event_vendor = 'com.acme' AND event_name = 'purchase' AS is_purchase,
        event_vendor = 'com.acme' AND event_name = 'product_view' AS is_product_view,
        split_part(event_version, '-', 1) = '1' AS is_major_1,
        geo_country,
        mkt_source,
        json_extract_string(contexts_nl_basjes_yauaa_context_1, '$[0].operatingSystemName') AS os,
        json_extract_string(contexts_com_acme_product_1, '$[0].category') AS category,
        TRY_CAST(json_extract_string(unstruct_event_com_acme_purchase_1, '$.total') AS DOUBLE) AS total,
        json_extract_string(unstruct_event_com_snowplowanalytics_snowplow_link_click_1, '$.targetUrl') AS target_url
    FROM deduplicated
    WHERE domain_userid IS NOT NULL AND domain_userid <> ''
      AND CAST(derived_tstamp AS DATE) BETWEEN DATE '@start_date' AND DATE '@end_day'
),

per_user AS (
    SELECT
        domain_userid,
        count(*) FILTER (WHERE is_page_view AND is_major_1 AND event_day >= DATE '@day_7') AS page_views_7d,
        count(*) FILTER (WHERE is_page_view AND event_day >= DATE '@day_30') AS page_views_30d,
        coalesce(sum(total) FILTER (WHERE is_purchase AND is_major_1 AND event_day >= DATE '@day_30'), 0) AS revenue_30d,
        avg(total) FILTER (WHERE is_purchase) AS mean_order_value,
        arg_min(mkt_source, struct_pack(t := derived_tstamp, i := event_id))
            FILTER (WHERE is_page_view AND mkt_source IS NOT NULL) AS first_mkt_source,
        arg_max(os, struct_pack(t := derived_tstamp, i := event_id))
            FILTER (WHERE is_page_view AND os IS NOT NULL) AS last_os,
        list(DISTINCT category ORDER BY category)
            FILTER (WHERE is_product_view AND category IS NOT NULL AND event_day >= DATE '@day_30') AS categories_30d,
        histogram(category) FILTER (WHERE is_product_view AND category IS NOT NULL) AS category_counts,
        count(DISTINCT event_day) FILTER (WHERE event_day >= DATE '@day_30') AS active_days_30d,
        count(DISTINCT target_url) FILTER (WHERE is_link_click AND event_day >= DATE '@day_7') AS link_targets_7d,
        count(*) FILTER (WHERE is_page_view AND geo_country = 'GB' AND event_day >= DATE '@day_7') AS gb_page_views_7d
    FROM events
    GROUP BY domain_userid
)

SELECT
    domain_userid,
    page_views_7d,
    page_views_30d,
    revenue_30d,
    mean_order_value,
    first_mkt_source,
    last_os,
    coalesce(categories_30d, CAST([] AS VARCHAR[])) AS categories_30d,
    -- the most frequent category; ties: the smallest value
    list_sort(
        list_transform(map_entries(category_counts), lambda e: struct_pack(n := -CAST(e.value AS BIGINT), v := e.key))
    )[1].v AS favourite_category,
    active_days_30d,
    link_targets_7d,
    gb_page_views_7d
FROM per_user
