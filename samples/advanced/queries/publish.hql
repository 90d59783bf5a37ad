-- Publishes the day's scores to the shared catalog table.
INSERT OVERWRITE TABLE quality.listing_scores SELECT * FROM staging.listing_scores;
