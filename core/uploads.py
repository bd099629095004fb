"""No file uploads anywhere: the only upload handler refuses every file part of a
multipart body before reading it, so nothing is buffered or written to disk. (Django
counts file parts outside DATA_UPLOAD_MAX_MEMORY_SIZE, which is why this is needed.)
Form fields of a multipart body still work: the browsable API posts its HTML form so."""

from django.core.exceptions import SuspiciousOperation
from django.core.files.uploadhandler import FileUploadHandler


class UploadRefused(SuspiciousOperation):
    """A file part in a request body. A SuspiciousOperation, so a page answers 400; the
    API's exception handler answers 415."""


class RefuseFileUploads(FileUploadHandler):
    def new_file(self, field_name, file_name, *args, **kwargs) -> None:
        raise UploadRefused(f"File uploads are not accepted (field {field_name!r}).")

    def receive_data_chunk(self, raw_data, start):
        return None

    def file_complete(self, file_size):
        return None
