from ragserve.cli import main

main()
