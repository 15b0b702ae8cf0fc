SELECT id, email, display_name, role, session_epoch, disabled, created_at, last_login_at FROM staff WHERE id = :staff;
SELECT id, name, sku, price_cents, stock FROM products WHERE name ILIKE '%blue mug%' OR sku ILIKE '%blue mug%' ORDER BY lower(name), id LIMIT 20;
