-- Media attachments that can be undone, downloads retried with backoff, and editions whose
-- published text can be re-rendered exactly.

-- The reaction or command event that attached (or detached) a media file by an editor's
-- hand: removing that reaction undoes exactly that attachment.
ALTER TABLE media ADD COLUMN attach_event TEXT;

-- When the next download attempt is due (ms since epoch); 0: as soon as possible. A failed
-- download stays 'pending' with its error until it has used all its attempts.
ALTER TABLE media ADD COLUMN next_attempt_at INTEGER NOT NULL DEFAULT 0;

-- The edition whose published post shows this file. Set at publish for the files the post
-- carried; such a file never moves again, so the edition re-renders as it was published.
ALTER TABLE media ADD COLUMN published_in INTEGER REFERENCES editions (id);

-- Attaching by reply and by the time window looks media up from the submission's side.
CREATE INDEX media_reply ON media (reply_to);
CREATE INDEX media_sender_ts ON media (sender, origin_ts);
CREATE INDEX media_published ON media (published_in);
