using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Mixer.Sdk.Adapters;
using Mixer.Sdk.Templates;
using Shouldly;

namespace Mixer.Sdk.Tests;

/// <summary>The typed adapter base: params read and checked in one place, handlers built only from valid params.</summary>
public sealed class AdapterOfTParamsTests
{
    [Fact]
    public void Validate_MalformedField_NamesThePathAndSkipsTheAdaptersOwnChecks()
    {
        var adapter = new FixedAnswerAdapter();

        var problems = adapter.Validate(Json("""{"validUseCount": "many", "code": 99}"""));

        problems.ShouldHaveSingleItem().Field.ShouldBe("validUseCount");
        adapter.ValidateCalls.ShouldBe(0);
    }

    [Fact]
    public void Validate_WellFormedButWrong_ReportsEveryProblemOfTheAdapter()
    {
        var problems = new FixedAnswerAdapter().Validate(Json("""{"code": 99, "validUseCount": -1}"""));

        problems.Select(p => p.Field).ShouldBe(["code", "validUseCount"]);
    }

    [Fact]
    public void Validate_UnknownField_IsAProblemRatherThanIgnored()
    {
        var problems = new FixedAnswerAdapter().Validate(Json("""{"cdoe": 7}"""));

        var problem = problems.ShouldHaveSingleItem();
        problem.Field.ShouldBe("cdoe");
        problem.Reason.ShouldContain("unknown field");
    }

    [Fact]
    public async Task BuildAsync_ValidParams_BuildsFromTypedParamsWithDefaults()
    {
        var handler = await new FixedAnswerAdapter().BuildAsync(Context("""{"code": 7}"""), CancellationToken.None);

        var result = await ((ICheckNothingHandler)handler).HandleCheckNothingAsync(new CheckNothingInstance { Name = "i.checknothing.default" }, CancellationToken.None);
        result.StatusCode.ShouldBe(StatusCodes.PermissionDenied);
        result.ValidUseCount.ShouldBe(10);
        result.ValidDuration.ShouldBe(TimeSpan.FromSeconds(3));
    }

    [Fact]
    public async Task BuildAsync_InvalidParams_RefusesNamingTheHandlerAndField()
    {
        var adapter = new FixedAnswerAdapter();

        var error = await Should.ThrowAsync<ArgumentException>(async () => await adapter.BuildAsync(Context("""{"code": -4}"""), CancellationToken.None));

        error.Message.ShouldContain("h.handler.default");
        error.Message.ShouldContain("code:");
        adapter.BuildCalls.ShouldBe(0);
    }

    [Fact]
    public void ParamsType_IsTheDeclaredParamsClass() =>
        new FixedAnswerAdapter().ParamsType.ShouldBe(typeof(FixedAnswerParams));

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();

    private static HandlerContext Context(string paramsJson) => new()
    {
        HandlerName = "h.handler.default",
        Params = Json(paramsJson),
        Instances = new Dictionary<string, string> { ["i.checknothing.default"] = "checknothing" },
        Logger = NullLogger.Instance,
    };

    public sealed class FixedAnswerParams
    {
        public int Code { get; set; }

        public int ValidUseCount { get; set; } = 10;

        public TimeSpan ValidDuration { get; set; } = TimeSpan.FromSeconds(3);
    }

    private sealed class FixedAnswerAdapter : Adapter<FixedAnswerParams>
    {
        public int ValidateCalls { get; private set; }

        public int BuildCalls { get; private set; }

        public override AdapterInfo Info { get; } = new("fixedanswer", "Answers every check the same way", ["checknothing"]);

        protected override void Validate(FixedAnswerParams parameters, ICollection<ConfigProblem> problems)
        {
            ValidateCalls++;
            if (parameters.Code is < 0 or > 16)
            {
                problems.Add(new ConfigProblem("code", "must be a google.rpc code (0..16)"));
            }

            if (parameters.ValidUseCount < 0)
            {
                problems.Add(new ConfigProblem("validUseCount", "must be >= 0"));
            }
        }

        protected override ValueTask<IHandler> BuildAsync(FixedAnswerParams parameters, HandlerContext context, CancellationToken cancellationToken)
        {
            BuildCalls++;
            return ValueTask.FromResult<IHandler>(new FixedAnswerHandler(new CheckResult(parameters.Code, "fixed", parameters.ValidDuration, parameters.ValidUseCount)));
        }
    }

    private sealed class FixedAnswerHandler(CheckResult result) : ICheckNothingHandler
    {
        public ValueTask<CheckResult> HandleCheckNothingAsync(CheckNothingInstance instance, CancellationToken cancellationToken) => ValueTask.FromResult(result);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
