"""Mobile-money providers behind one Provider protocol."""
