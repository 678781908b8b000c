from edge_all.cli import main

main()
