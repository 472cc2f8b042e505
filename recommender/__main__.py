"""`python -m recommender`: evaluate, tune and train on a CSV; manage model versions."""

from recommender.cli import main

if __name__ == "__main__":
    main()
