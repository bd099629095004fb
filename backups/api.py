from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from backups.transfer import board_export
from boards.access import READ, require_board


class BoardExportView(APIView):
    @extend_schema(operation_id="boards_export_retrieve", responses={200: dict})
    def get(self, request, pk: int):
        """The whole board — columns, labels, tickets, comments, history — as the
        document `import_board` reads (format_version 1). Anyone who may read it may
        export it: it holds nothing a reader cannot already see."""
        require_board(request.user, int(pk), READ)
        return Response(board_export(board_id=int(pk)))
