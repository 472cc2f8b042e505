"""Collaborative filtering for the shop, as a plain library (numpy, scipy, implicit).

Interactions in, ranked item keys with scores and reasons out::

    from recommender import Interaction, ModelStore, TrainingParams, train

    recommender = train(interactions, TrainingParams())        # ALS by default
    store = ModelStore("models")
    store.activate(store.save(recommender, {"metrics": {...}}))

    live = store.load()                                        # the active version
    live.for_user(shopper_interactions, k=10, exclude={"85123A"})
    live.similar_items("85123A", k=5)
    live.bought_together(["85123A", "71053"], k=5)

See docs/RECOMMENDER.md for the weighting, the models and the evaluation protocol.
"""

from recommender.association import BasketRules, Rule, RuleThresholds
from recommender.blending import BlendParams
from recommender.content import ContentIndex, ContentParams, ItemFeatures
from recommender.csvio import CsvReport, read_interactions_csv, read_item_features_csv
from recommender.errors import (
    ArtifactError,
    ModelUnavailableError,
    NoActiveVersionError,
    VersionNotFoundError,
)
from recommender.evaluation import EvaluationReport, Evaluator, evaluate
from recommender.interactions import Interaction, Interactions
from recommender.keys import IdMap
from recommender.metrics import RankingMetrics
from recommender.models import (
    MODELS,
    ALSModel,
    BPRModel,
    ItemKNNModel,
    Model,
    PopularityModel,
    create_model,
)
from recommender.neighbours import NeighbourIndex, NeighbourParams
from recommender.params import TrainingParams
from recommender.profile import UserProfile
from recommender.reasons import Reason, Recommendation
from recommender.serving import Recommender
from recommender.similar import SimilarParams
from recommender.splits import Split, leave_last_out, random_split, time_split
from recommender.store import ActiveModel, ModelStore, ModelVersion
from recommender.training import train
from recommender.tuning import SearchSpace, Trial, TuningResult, tune
from recommender.weighting import InteractionMatrix, Weighting, build_matrix

__all__ = [
    "MODELS",
    "ALSModel",
    "ActiveModel",
    "ArtifactError",
    "BPRModel",
    "BasketRules",
    "BlendParams",
    "ContentIndex",
    "ContentParams",
    "CsvReport",
    "EvaluationReport",
    "Evaluator",
    "IdMap",
    "Interaction",
    "InteractionMatrix",
    "Interactions",
    "ItemFeatures",
    "ItemKNNModel",
    "Model",
    "ModelStore",
    "ModelUnavailableError",
    "ModelVersion",
    "NeighbourIndex",
    "NeighbourParams",
    "NoActiveVersionError",
    "PopularityModel",
    "RankingMetrics",
    "Reason",
    "Recommendation",
    "Recommender",
    "Rule",
    "RuleThresholds",
    "SearchSpace",
    "SimilarParams",
    "Split",
    "TrainingParams",
    "Trial",
    "TuningResult",
    "UserProfile",
    "VersionNotFoundError",
    "Weighting",
    "build_matrix",
    "create_model",
    "evaluate",
    "leave_last_out",
    "random_split",
    "read_interactions_csv",
    "read_item_features_csv",
    "time_split",
    "train",
    "tune",
]
