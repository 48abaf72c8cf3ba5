-- A job shows the phase of the furthest task, in plan order, that it has leased: phase_seq is
-- that task's place in the plan (-1 before any). Phases need no order of their own, so a kind
-- names its phases freely.
ALTER TABLE jobs ADD COLUMN phase_seq BIGINT NOT NULL DEFAULT -1;
