-- An order with refunds keeps its refund status. The two refunded statuses
-- follow the order's refunds (0011 already refuses them without one); now an
-- order with refunds can no longer be moved back to pending, paid or shipped
-- (nor cancelled, as before) by any path: the order form, bulk actions and
-- jobs, imports, undo and restore. Otherwise the order's status, its timeline
-- and the figures by status would say it was never refunded while its
-- refunded amount says otherwise.

-- Orders already moved off their refund status by hand get it back, as a
-- refund decides it: refunded when everything paid, or every item, was given
-- back; partially refunded otherwise. Their version moves on, so a form
-- opened before reloads instead of overwriting.
UPDATE orders
   SET status = CASE WHEN refunded_cents >= total_cents
                       OR NOT EXISTS (SELECT 1 FROM order_items i
                                       WHERE i.order_id = orders.id AND i.refunded_quantity < i.quantity)
                     THEN 'refunded' ELSE 'partially_refunded' END,
       version = version + 1, updated_at = now()
 WHERE refunded_cents > 0 AND status NOT IN ('partially_refunded', 'refunded');

ALTER TABLE orders
    ADD CONSTRAINT orders_refunds_keep_refund_status
        CHECK (refunded_cents = 0 OR status IN ('partially_refunded', 'refunded'));
