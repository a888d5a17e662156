//! Grading for one chapter's exercise (being written).
