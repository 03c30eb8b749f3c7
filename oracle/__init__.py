"""The CO2 oracle: smart-meter evidence in, verified reductions and exactly-once grants out."""
