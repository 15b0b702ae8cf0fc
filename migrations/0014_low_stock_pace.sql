-- How many units a product sold in the last 30 days (net of refunds, not
-- counting cancelled orders): the pace beside each product running low.
-- Summing a product's recent lines reads every order it was ever on, so the
-- dashboard's background refresher keeps the pace of the products at or below
-- their reorder point, and a page reads it; a pace missing or older than ten
-- minutes is summed on the spot.
CREATE FUNCTION units_sold_30_days(product BIGINT) RETURNS BIGINT LANGUAGE sql STABLE AS $$
    SELECT coalesce(sum(i.quantity - i.refunded_quantity), 0)::BIGINT
      FROM order_items i JOIN orders o ON o.id = i.order_id
     WHERE i.product_id = product AND o.status <> 'cancelled' AND o.placed_at >= now() - INTERVAL '30 days'
$$;

CREATE TABLE product_pace (
    product_id   BIGINT PRIMARY KEY REFERENCES products (id) ON DELETE CASCADE,
    sold_30_days BIGINT NOT NULL CONSTRAINT product_pace_sold_nonnegative CHECK (sold_30_days >= 0),
    computed_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
