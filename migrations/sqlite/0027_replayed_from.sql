-- A run made with "Run again with changes" names the run it was made from.
ALTER TABLE jobs ADD COLUMN replayed_from TEXT;
