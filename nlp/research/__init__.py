"""The researchers' loop: importing annotations, retraining and promoting, suggesting texts to label."""
