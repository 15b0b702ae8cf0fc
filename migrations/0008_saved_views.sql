-- Saved views: a list's filters, search and sort kept under a name, for
-- the staff member who saved it or, shared, for all staff. The query string
-- is stored as text and read back through the list's own query when the
-- view is opened, so a parameter a later version no longer knows is dropped.
CREATE TABLE saved_views (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    staff_id   BIGINT NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    list       TEXT NOT NULL CONSTRAINT saved_views_list_known CHECK (list IN ('users', 'products', 'orders', 'audit')),
    name       TEXT NOT NULL CONSTRAINT saved_views_name_shape CHECK (name = btrim(name) AND length(name) BETWEEN 1 AND 80),
    query      TEXT NOT NULL CONSTRAINT saved_views_query_size CHECK (length(query) <= 2000),
    shared     BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A name is unique among one person's private views of a list, and among
-- the shared views of a list, in any letter case.
CREATE UNIQUE INDEX saved_views_private_name_key ON saved_views (staff_id, list, lower(name)) WHERE NOT shared;
CREATE UNIQUE INDEX saved_views_shared_name_key ON saved_views (list, lower(name)) WHERE shared;
-- The views shown above a list: one's own, then the shared ones.
CREATE INDEX saved_views_list_idx ON saved_views (list, staff_id);
