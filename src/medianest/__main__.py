from medianest.cli import main

main()
