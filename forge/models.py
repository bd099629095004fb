from django.db import models


class ForgeSettings(models.Model):
    """How a board hears from its forges: the secret each one signs with (empty: that
    forge's hook is refused) and the columns a pull request's opening and merging move
    its tickets to (null: no move)."""

    board = models.OneToOneField(
        "boards.Board", on_delete=models.CASCADE, primary_key=True, related_name="forge_settings"
    )
    # Kept as given: an HMAC needs the secret itself. Never shown again once set.
    github_secret = models.CharField(max_length=255, blank=True, default="")
    gitlab_secret = models.CharField(max_length=255, blank=True, default="")
    gitea_secret = models.CharField(max_length=255, blank=True, default="")
    # A column, not its name: a renamed column keeps its rule, a removed one drops it.
    on_pr_opened = models.ForeignKey(
        "boards.Column", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    on_pr_merged = models.ForeignKey(
        "boards.Column", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "forge settings"

    def __str__(self) -> str:
        return f"Forge settings of board {self.board_id}"

    def secret_of(self, forge: str) -> str:
        return getattr(self, f"{forge}_secret")


class ForgeDelivery(models.Model):
    """A delivery a forge made to a board's hook, kept so that the same delivery sent
    again (a retry, a redelivery, a replay) changes nothing the second time. Written in
    the transaction of what the delivery did."""

    board = models.ForeignKey("boards.Board", on_delete=models.CASCADE, related_name="+")
    forge = models.CharField(max_length=10)
    delivery_id = models.CharField(max_length=100)
    event = models.CharField(max_length=50)
    received_at = models.DateTimeField()
    # What the delivery did, answered again to a replay.
    summary = models.JSONField(default=dict)

    class Meta:
        ordering = ["board_id", "received_at", "id"]
        verbose_name_plural = "forge deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["board", "forge", "delivery_id"], name="forge_delivery_once_per_board"
            ),
        ]
        indexes = [models.Index(fields=["board", "received_at"], name="forge_delivery_board_time")]

    def __str__(self) -> str:
        return f"{self.forge} {self.delivery_id} to board {self.board_id}"
