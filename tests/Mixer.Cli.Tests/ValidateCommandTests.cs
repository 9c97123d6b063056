using Mixer.Cli;
using Mixer.Testing;

namespace Mixer.Cli.Tests;

/// <summary>mixc validate: the same validation mixs applies, offline.</summary>
public sealed class ValidateCommandTests
{
    private static async Task<(int Code, string Out)> ValidateAsync(string dir)
    {
        var stdout = new StringWriter();
        var code = await ValidateCommand.RunAsync(dir, "istio-system", stdout, TextWriter.Null, CancellationToken.None);
        return (code, stdout.ToString());
    }

    [Fact]
    public async Task Validate_TheDefaultConfig_IsValid()
    {
        var (code, output) = await ValidateAsync(ConfigDir.RepositoryFile("mixer/config"));

        code.ShouldBe(ValidateCommand.Valid, output);
        output.ShouldContain(": valid");
    }

    [Fact]
    public async Task Validate_OutOfProcessAdapterConfig_ChecksParamsAgainstTheDescriptor_WithoutContactingTheAdapter()
    {
        using var dir = new ConfigDir().WithDefaultAttributes();
        dir.Write("remote.yaml", $$"""
            apiVersion: config.istio.io/v1alpha2
            kind: adapter
            metadata: {name: spy, namespace: istio-system}
            spec:
              templates: [listentry]
              config: "{{SpyAdapterServer.ParamsDescriptorBase64}}"
            ---
            apiVersion: config.istio.io/v1alpha2
            kind: handler
            metadata: {name: good, namespace: istio-system}
            spec:
              adapter: spy
              connection: {address: "127.0.0.1:1"}
              params: {file_path: out.txt, mode: ON}
            ---
            apiVersion: config.istio.io/v1alpha2
            kind: handler
            metadata: {name: bad, namespace: istio-system}
            spec:
              adapter: spy
              connection: {address: "127.0.0.1:1"}
              params:
                file_path: out.txt
                max_entries: plenty
            """);

        var (code, output) = await ValidateAsync(dir.Path);

        code.ShouldBe(ValidateCommand.Invalid);
        output.ShouldContain("remote.yaml:24: handler istio-system/bad: params.maxEntries: must be an integer, not 'plenty'");
        output.ShouldNotContain("handler istio-system/good");
    }

    [Fact]
    public async Task Validate_BrokenConfig_ListsEveryErrorWithFileLineFieldAndReason_AndFails()
    {
        using var dir = new ConfigDir().WithDefaultAttributes();
        dir.Write("rules.yaml", """
            apiVersion: config.istio.io/v1alpha2
            kind: rule
            metadata:
              name: typo
              namespace: istio-system
            spec:
              match: source.namespac == "prod"
              actions:
              - handler: nosuch.denier
                instances: [nosuch.checknothing]
            ---
            apiVersion: config.istio.io/v1alpha2
            kind: memquota
            metadata:
              name: handler
              namespace: istio-system
            spec:
              quotas:
              - name: requestcount.quota.istio-system
                maxAmount: -1
                colour: blue
            """);
        dir.Write("syntax.yaml", "kind: rule\nmetadata: {name: [\n");

        var (code, output) = await ValidateAsync(dir.Path);

        code.ShouldBe(ValidateCommand.Invalid);
        output.ShouldContain("rules.yaml:7: rule istio-system/typo: match:");
        output.ShouldContain("did you mean 'source.namespace'?");
        output.ShouldContain("rules.yaml:9: rule istio-system/typo: actions[0].handler: handler 'nosuch.denier' not found");
        output.ShouldContain("memquota istio-system/handler: quotas[0].");
        output.ShouldContain("syntax.yaml:");
        output.ShouldContain("error(s)");
    }

    [Fact]
    public async Task Validate_HandlerForAnUnreachableBackend_IsValidOffline()
    {
        using var dir = new ConfigDir().WithDefaultAttributes();
        dir.Write("redis.yaml", """
            apiVersion: config.istio.io/v1alpha2
            kind: redisquota
            metadata:
              name: handler
              namespace: istio-system
            spec:
              redisServerUrl: 127.0.0.1:1
              quotas:
              - name: requestcount.quota.istio-system
                maxAmount: 10
                validDuration: 1s
                rateLimitAlgorithm: FIXED_WINDOW
            ---
            apiVersion: config.istio.io/v1alpha2
            kind: quota
            metadata:
              name: requestcount
              namespace: istio-system
            spec:
              dimensions:
                source: source.name | "unknown"
            ---
            apiVersion: config.istio.io/v1alpha2
            kind: rule
            metadata:
              name: quota
              namespace: istio-system
            spec:
              actions:
              - handler: handler.redisquota
                instances: [requestcount.quota]
            """);

        var (code, output) = await ValidateAsync(dir.Path);

        code.ShouldBe(ValidateCommand.Valid, output);
    }

    [Fact]
    public async Task Validate_UnknownRuleField_IsAnError_AndTheLegacySelectorIsAccepted()
    {
        using var dir = new ConfigDir().WithDefaultAttributes();
        dir.Write("rules.yaml", """
            apiVersion: config.istio.io/v1alpha2
            kind: denier
            metadata: {name: deny, namespace: istio-system}
            spec:
              status: {code: 7}
            ---
            apiVersion: config.istio.io/v1alpha2
            kind: checknothing
            metadata: {name: nothing, namespace: istio-system}
            spec: {}
            ---
            apiVersion: config.istio.io/v1alpha2
            kind: rule
            metadata: {name: old, namespace: istio-system}
            spec:
              selector: source.namespace == "legacy"
              actions:
              - handler: deny.denier
                instances: [nothing.checknothing]
            ---
            apiVersion: config.istio.io/v1alpha2
            kind: rule
            metadata: {name: typo, namespace: istio-system}
            spec:
              matches: source.namespace == "x"
              actions:
              - handler: deny.denier
                instance: [nothing.checknothing]
            """);

        var (code, output) = await ValidateAsync(dir.Path);

        code.ShouldBe(ValidateCommand.Invalid);
        output.ShouldNotContain("rule istio-system/old");
        output.ShouldContain("rule istio-system/typo: matches: unknown field");
        output.ShouldContain("rule istio-system/typo: actions[0].instance: unknown field");
    }

    [Fact]
    public async Task Validate_MissingDirectory_IsBadUsage()
    {
        var (code, _) = await ValidateAsync("/nonexistent/mixer-config");

        code.ShouldBe(ValidateCommand.BadUsage);
    }
}
