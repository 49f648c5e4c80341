"""Recipes: one command that makes a whole model, step by step (``keyvid recipe``).

from keyvid.recipes import run_recipe
model = run_recipe("synth", "recipes/synth", tiny=True)   # OUT/model: --checkpoint takes it
"""

from keyvid.recipes.book import RECIPES, RecipeOptions, recipe_steps
from keyvid.recipes.runner import describe_recipe, run_recipe

__all__ = ["RECIPES", "RecipeOptions", "describe_recipe", "recipe_steps", "run_recipe"]
