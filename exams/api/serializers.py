"""Request validation and the documented response shapes of the REST API."""

from rest_framework import serializers


class SubmitAnswerSerializer(serializers.Serializer):
    attempt_id = serializers.IntegerField(min_value=1)
    question_id = serializers.IntegerField(min_value=1)
    selected_option = serializers.CharField(max_length=8, trim_whitespace=True)


class ExtendSerializer(serializers.Serializer):
    seconds = serializers.IntegerField(min_value=1, max_value=24 * 3600)


class TimerSerializer(serializers.Serializer):
    attempt_id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["ongoing", "completed", "timeout"])
    remaining_seconds = serializers.IntegerField(min_value=0)
    deadline = serializers.DateTimeField()
    server_time = serializers.DateTimeField()


class StartSerializer(TimerSerializer):
    exam_id = serializers.IntegerField()
    duration_seconds = serializers.IntegerField()
    resumed = serializers.BooleanField()


class AnswerSavedSerializer(serializers.Serializer):
    attempt_id = serializers.IntegerField()
    question_id = serializers.IntegerField()
    selected_option = serializers.CharField()
    saved_at = serializers.DateTimeField()


class ResultRowSerializer(serializers.Serializer):
    question_id = serializers.IntegerField()
    selected_option = serializers.CharField(allow_null=True)
    points = serializers.IntegerField()
    correct_option = serializers.CharField(required=False)
    is_correct = serializers.BooleanField(required=False)


class ResultSerializer(serializers.Serializer):
    attempt_id = serializers.IntegerField()
    status = serializers.CharField()
    score = serializers.IntegerField()
    max_score = serializers.IntegerField()
    percentage = serializers.FloatField()
    answered = serializers.IntegerField()
    total_questions = serializers.IntegerField()
    results = ResultRowSerializer(many=True)


class QuestionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()
    options = serializers.DictField(child=serializers.CharField())
    points = serializers.IntegerField()
    selected_option = serializers.CharField(allow_null=True)


class QuestionsSerializer(TimerSerializer):
    exam_id = serializers.IntegerField()
    exam_title = serializers.CharField()
    questions = QuestionSerializer(many=True)


class ErrorSerializer(serializers.Serializer):
    error = serializers.DictField(child=serializers.CharField())
