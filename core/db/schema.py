"""The album database's schema, as an ordered list of migrations.

Each migration runs once, in its own transaction, and bumps ``PRAGMA user_version``. Never edit
a migration that has shipped: append a new one.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema.
    """
    CREATE TABLE photos (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,              -- relative to the album root, POSIX separators
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        content_hash TEXT,                      -- blake2b-128 of the bytes; follows moves
        width INTEGER,
        height INTEGER,
        taken_at TEXT,                          -- EXIF capture time, ISO 8601
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'ok', 'error', 'missing')),
        error TEXT,                             -- reason when status = 'error'
        model_version INTEGER,                  -- the model whose scores are stored
        added_at TEXT NOT NULL
    );
    CREATE INDEX photos_hash ON photos (content_hash);
    CREATE INDEX photos_status ON photos (status);

    CREATE TABLE labels (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        parent_id INTEGER REFERENCES labels (id) ON DELETE SET NULL,
        kind TEXT NOT NULL CHECK (kind IN ('builtin', 'user')),
        threshold REAL NOT NULL,                -- default; a model version may override it
        aliases TEXT NOT NULL DEFAULT '[]'      -- JSON list of strings
    );

    -- What the model said and what the user said, as separate facts. A verdict is never
    -- overwritten by anything but the user.
    CREATE TABLE photo_labels (
        photo_id INTEGER NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
        label_id INTEGER NOT NULL REFERENCES labels (id) ON DELETE CASCADE,
        score REAL,                             -- model score, NULL when the model gave none
        verdict INTEGER NOT NULL DEFAULT 0
            CHECK (verdict IN (-1, 0, 1)),      -- 1 confirmed, -1 rejected, 0 none
        source TEXT NOT NULL,                   -- 'model', 'user' or 'import'
        updated_at TEXT NOT NULL,
        PRIMARY KEY (photo_id, label_id)
    ) WITHOUT ROWID;
    CREATE INDEX photo_labels_label ON photo_labels (label_id, verdict);

    -- The effective tags LabelPolicy derives (thresholds + hierarchy + verdicts), kept so
    -- that search is a few index lookups.
    CREATE TABLE photo_tags (
        label_id INTEGER NOT NULL REFERENCES labels (id) ON DELETE CASCADE,
        photo_id INTEGER NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
        direct INTEGER NOT NULL,                -- the label itself is on, not only a descendant
        verified INTEGER NOT NULL,              -- supported by a confirmed verdict
        PRIMARY KEY (label_id, photo_id)
    ) WITHOUT ROWID;
    CREATE INDEX photo_tags_photo ON photo_tags (photo_id);

    CREATE TABLE features (
        photo_id INTEGER NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
        backbone TEXT NOT NULL,
        vector BLOB NOT NULL,                   -- float16, little-endian
        PRIMARY KEY (photo_id, backbone)
    );

    CREATE TABLE models (
        version INTEGER PRIMARY KEY,
        backbone TEXT NOT NULL,
        head_file TEXT,                         -- relative to the data folder; NULL = prior head
        thresholds TEXT NOT NULL DEFAULT '{}',  -- JSON {label name: threshold}
        metrics TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 0
    );

    -- Append-only history of verdict changes: undo/redo and audit. One user action = one batch.
    CREATE TABLE verdict_log (
        id INTEGER PRIMARY KEY,
        batch INTEGER NOT NULL,
        photo_id INTEGER NOT NULL,
        label_id INTEGER NOT NULL,
        old_verdict INTEGER NOT NULL,
        new_verdict INTEGER NOT NULL,
        old_source TEXT,
        at TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'done' CHECK (state IN ('done', 'undone', 'dropped'))
    );
    CREATE INDEX verdict_log_batch ON verdict_log (batch);

    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # 2: what the face detector saw (core.people.faces.FaceSummary; NULL = it did not run on the
    #    photo), and an index for capture-date searches (year:, date:) and sorting.
    """
    ALTER TABLE photos ADD COLUMN faces INTEGER;    -- faces counted
    ALTER TABLE photos ADD COLUMN face_area REAL;   -- the largest face's share of the picture
    ALTER TABLE photos ADD COLUMN face_best REAL;   -- the best detection's probability
    CREATE INDEX photos_taken ON photos (taken_at);
    """,
    # 3: sorting the grid newest first without a temporary B-tree.
    """
    CREATE INDEX photos_mtime ON photos (mtime_ns);
    """,
    # 4: whether a photo carries any tag, kept by the store, so "untagged" is an index range.
    """
    ALTER TABLE photos ADD COLUMN tagged INTEGER NOT NULL DEFAULT 0;
    UPDATE photos SET tagged = EXISTS (SELECT 1 FROM photo_tags t WHERE t.photo_id = photos.id);
    CREATE INDEX photos_untagged ON photos (id) WHERE tagged = 0;
    """,
    # 5: star ratings and pick/reject flags (issue 15.7; NULL: never set, by the user or an
    #    import), and the journal of edits other than verdicts (the label manager's changes,
    #    ratings), whose batch numbers share one undo stack with verdict_log's.
    """
    ALTER TABLE photos ADD COLUMN rating INTEGER CHECK (rating BETWEEN 0 AND 5);
    ALTER TABLE photos ADD COLUMN flag INTEGER CHECK (flag IN (-1, 0, 1)); -- 1 pick, -1 reject
    CREATE INDEX photos_rating ON photos (rating) WHERE rating IS NOT NULL;
    CREATE INDEX photos_flag ON photos (flag) WHERE flag IS NOT NULL;
    CREATE TABLE edit_log (
        id INTEGER PRIMARY KEY,
        batch INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('labels', 'ratings')),
        what TEXT NOT NULL,                     -- the change in words ("renamed Rexx to Rex")
        before TEXT NOT NULL,                   -- JSON: the state the change replaced
        after TEXT NOT NULL,                    -- JSON: the state it made
        at TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'done' CHECK (state IN ('done', 'undone', 'dropped'))
    );
    CREATE INDEX edit_log_batch ON edit_log (batch);
    """,
)
