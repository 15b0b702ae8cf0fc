-- What undoing a change set would do to each customer, product and order it
-- touched, read from its audit entries and the rows as they are now. Both
-- the confirmation page and the undo itself (under row locks) read this one
-- definition, so what is shown is what is done.
--
-- One row per record, with the record as it was before the set (`before`,
-- from its first entry) and as the set left it (`after`, from its last), and
-- the outcome:
--   revert      updated by the set, unchanged since: gets `before` back
--   delete      created by the set, unchanged since and referred to by nothing
--   restore     deleted by the set and not back since: comes back as `before`
--   referenced  created by the set but now referred to (a customer with
--               orders, a product on order lines), whether changed since or not
--   changed     changed since (a later entry, or the row differs from `after`)
--   follows     a product whose only change was the stock that the set's
--               orders took or gave back: the orders' undo moves it again
--   nothing     created and deleted again within the set
CREATE FUNCTION change_set_plan(set_id BIGINT)
RETURNS TABLE (entity TEXT, entity_id BIGINT, first_action TEXT, last_action TEXT, before JSONB, after JSONB,
               outcome TEXT)
-- Enough memory to group a 100,000-record import without spilling to disk.
LANGUAGE sql STABLE SET work_mem = '64MB' AS $$
    WITH entries AS (
        SELECT a.id, a.entity, a.entity_id, a.action, a.before, a.after
          FROM audit_log a
         WHERE a.change_set_id = set_id AND a.entity IN ('user', 'product', 'order')
    ), has_orders AS (
        SELECT EXISTS (SELECT 1 FROM entries WHERE entries.entity = 'order') AS yes
    ), records AS (
        SELECT e.entity, e.entity_id,
               (array_agg(e.action ORDER BY e.id))[1] AS first_action,
               (array_agg(e.action ORDER BY e.id DESC))[1] AS last_action,
               (array_agg(e.before ORDER BY e.id))[1] AS before,
               (array_agg(e.after ORDER BY e.id DESC))[1] AS after,
               max(e.id) AS last_entry
          FROM entries e
         GROUP BY e.entity, e.entity_id
    ), now AS (
        SELECT r.*,
               CASE r.entity
                   WHEN 'user' THEN (SELECT to_jsonb(u) - 'version' - 'updated_at' FROM users u WHERE u.id = r.entity_id)
                   WHEN 'product' THEN (SELECT to_jsonb(p) - 'version' - 'updated_at' FROM products p
                                         WHERE p.id = r.entity_id)
                   ELSE (SELECT to_jsonb(o) - 'version' - 'updated_at' FROM orders o WHERE o.id = r.entity_id)
               END AS current,
               EXISTS (SELECT 1 FROM audit_log l
                        WHERE l.entity IN (r.entity, CASE WHEN r.entity = 'order' THEN 'order_line' END)
                          AND l.entity_id = r.entity_id AND l.id > r.last_entry
                          AND l.change_set_id IS DISTINCT FROM set_id) AS later
          FROM records r
    )
    SELECT n.entity, n.entity_id, n.first_action, n.last_action, n.before, n.after,
           CASE
               WHEN n.first_action = 'create' AND n.last_action = 'delete' THEN 'nothing'
               WHEN n.entity = 'product' AND n.first_action = 'update' AND n.last_action = 'update'
                    AND (SELECT yes FROM has_orders) AND (n.before - 'stock') = (n.after - 'stock') THEN 'follows'
               WHEN n.first_action = 'create' AND n.entity = 'user'
                    AND EXISTS (SELECT 1 FROM orders o WHERE o.user_id = n.entity_id) THEN 'referenced'
               WHEN n.first_action = 'create' AND n.entity = 'product'
                    AND EXISTS (SELECT 1 FROM order_items i WHERE i.product_id = n.entity_id) THEN 'referenced'
               WHEN n.later OR n.current IS DISTINCT FROM n.after THEN 'changed'
               WHEN n.first_action = 'create' THEN 'delete'
               WHEN n.last_action = 'delete' THEN 'restore'
               ELSE 'revert'
           END
      FROM now n;
$$;
