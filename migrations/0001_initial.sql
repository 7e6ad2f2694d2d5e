-- twimbot schema, version 1.
-- Times are milliseconds since the Unix epoch (Matrix origin_server_ts units).

-- A week's post. Exactly one edition is open (published_at IS NULL) at a time.
CREATE TABLE editions (
    id            INTEGER PRIMARY KEY,
    opened_at     INTEGER NOT NULL,
    published_at  INTEGER,
    post_date     TEXT,            -- YYYY-MM-DD, fixed at publish
    published_by  TEXT,
    rendered      TEXT             -- the Markdown as published
);
CREATE UNIQUE INDEX editions_one_open ON editions ((published_at IS NULL)) WHERE published_at IS NULL;

-- Every message seen in a submissions room: the raw material for submissions made later by
-- reaction or by an edit that adds the trigger, and for the media attach window.
CREATE TABLE messages (
    event_id   TEXT PRIMARY KEY,
    room_id    TEXT NOT NULL,
    sender     TEXT NOT NULL,
    msgtype    TEXT NOT NULL,
    body       TEXT NOT NULL,
    origin_ts  INTEGER NOT NULL,
    reply_to   TEXT,
    redacted   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX messages_sender_ts ON messages (sender, origin_ts);

CREATE TABLE submissions (
    id            INTEGER PRIMARY KEY,
    edition_id    INTEGER NOT NULL REFERENCES editions (id),
    number        INTEGER NOT NULL,           -- "post N" within the edition
    event_id      TEXT NOT NULL UNIQUE,
    room_id       TEXT NOT NULL,
    sender        TEXT NOT NULL,
    sender_name   TEXT NOT NULL,
    origin_ts     INTEGER NOT NULL,
    text          TEXT NOT NULL,              -- current text, trigger and reply fallback stripped
    via           TEXT NOT NULL,              -- prefix | mention | notice | edit
    submitted_by  TEXT NOT NULL,              -- the sender, or the editor who reacted notice_emoji
    redacted      INTEGER NOT NULL DEFAULT 0,
    dropped       INTEGER NOT NULL DEFAULT 0, -- an editor's !twim drop
    frozen        INTEGER NOT NULL DEFAULT 0, -- edition published: edits are recorded only
    auto_project         TEXT,
    auto_project_reason  TEXT NOT NULL DEFAULT '',
    auto_section         TEXT NOT NULL,
    auto_section_reason  TEXT NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    UNIQUE (edition_id, number)
);
CREATE INDEX submissions_edition ON submissions (edition_id, origin_ts, number);
CREATE INDEX submissions_sender ON submissions (sender, origin_ts);

-- Every text a submission had, the original included.
CREATE TABLE revisions (
    id             INTEGER PRIMARY KEY,
    submission_id  INTEGER NOT NULL REFERENCES submissions (id),
    event_id       TEXT NOT NULL UNIQUE,
    text           TEXT NOT NULL,
    origin_ts      INTEGER NOT NULL,
    applied        INTEGER NOT NULL DEFAULT 1  -- 0: recorded after publish, not shown
);
CREATE INDEX revisions_submission ON revisions (submission_id);

-- An editor's choice of project or section, by reaction or by command. The newest mark that is
-- not removed wins; removing a reaction removes its mark and the automatic choice returns.
CREATE TABLE marks (
    id             INTEGER PRIMARY KEY,
    submission_id  INTEGER NOT NULL REFERENCES submissions (id),
    kind           TEXT NOT NULL CHECK (kind IN ('project', 'section')),
    value          TEXT,                      -- NULL: explicitly no project
    source_event   TEXT NOT NULL UNIQUE,      -- the reaction or command event
    editor         TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    removed        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX marks_submission ON marks (submission_id, kind, removed);
CREATE INDEX marks_editor_sender ON marks (kind, removed, submission_id);

-- Reactions the bot has seen in its rooms, so a redaction of one can be undone.
CREATE TABLE reactions (
    event_id   TEXT PRIMARY KEY,
    room_id    TEXT NOT NULL,
    target     TEXT NOT NULL,
    sender     TEXT NOT NULL,
    key        TEXT NOT NULL,
    redacted   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX reactions_target ON reactions (target);

CREATE TABLE media (
    id             INTEGER PRIMARY KEY,
    event_id       TEXT NOT NULL UNIQUE,
    room_id        TEXT NOT NULL,
    sender         TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('image', 'video', 'file')),
    mxc            TEXT NOT NULL,
    body           TEXT NOT NULL DEFAULT '',
    mimetype       TEXT,
    origin_ts      INTEGER NOT NULL,
    reply_to       TEXT,
    submission_id  INTEGER REFERENCES submissions (id),
    attach_source  TEXT,                      -- reply | window | editor
    file_name      TEXT,                      -- content hash + extension once downloaded
    status         TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    error          TEXT,
    redacted       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX media_submission ON media (submission_id);
CREATE INDEX media_status ON media (status);

-- Dept of Ping measurements: the bot's own and every echo-compatible pong seen.
CREATE TABLE pings (
    id          INTEGER PRIMARY KEY,
    event_id    TEXT NOT NULL UNIQUE,         -- the pong (or, for our own, the ping) event
    ping_event  TEXT NOT NULL,
    server      TEXT NOT NULL,
    delay_ms    REAL NOT NULL,
    origin_ts   INTEGER NOT NULL,
    reporter    TEXT NOT NULL
);
CREATE INDEX pings_ts ON pings (origin_ts);

-- Editor commands, queued in the sync transaction and run after it commits.
CREATE TABLE commands (
    event_id   TEXT PRIMARY KEY,
    room_id    TEXT NOT NULL,
    sender     TEXT NOT NULL,
    body       TEXT NOT NULL,
    origin_ts  INTEGER NOT NULL,
    status     TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
    result     TEXT
);
CREATE INDEX commands_pending ON commands (status);

-- Messages the bot owes the rooms. Written in the same transaction as what caused them and sent
-- afterwards with txn_id, so a resend after a crash is deduplicated by the homeserver.
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY,
    room_id     TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    content     TEXT NOT NULL,                -- JSON
    txn_id      TEXT NOT NULL UNIQUE,
    priority    INTEGER NOT NULL DEFAULT 1,   -- 0: acknowledgements go first
    created_at  INTEGER NOT NULL,
    sent_at     INTEGER,
    sent_event  TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    error       TEXT
);
CREATE INDEX outbox_pending ON outbox (priority, id) WHERE sent_at IS NULL;

-- Small named values: the sync token, the login session, per-room markers.
CREATE TABLE state (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
