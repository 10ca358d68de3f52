-- Numbers the changes announced to other instances (LISTEN/NOTIFY); an
-- instance whose notification connection dropped compares this with the
-- last number it heard to know it missed something.
CREATE SEQUENCE change_seq;
