using Microsoft.Extensions.Logging.Abstractions;
using Mixer.Runtime.Config;

namespace Mixer.Runtime.Tests;

public sealed class FsConfigStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mixer-store-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private FsConfigStore Store() => new(_dir, NullLogger.Instance);

    private void Write(string relative, string text)
    {
        var path = Path.Combine(_dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    [Fact]
    public void Load_MultiDocumentFilesInSubdirectories_ReadsEveryMixerResource()
    {
        Write("a.yaml", """
            apiVersion: "config.istio.io/v1alpha2"
            kind: denier
            metadata:
              name: denyall
              namespace: istio-system
            spec:
              status:
                code: 7
                message: Not allowed
            ---
            # a comment-only document is skipped
            ---
            apiVersion: "config.istio.io/v1alpha2"
            kind: checknothing
            metadata: {name: denyrequest, namespace: istio-system}
            """);
        Write("sub/b.yml", """
            apiVersion: config.istio.io/v1alpha2
            kind: rule
            metadata: {name: r1, namespace: default}
            spec:
              match: request.headers["clnt"] == "abc"
              actions:
              - handler: denyall.denier
                instances: [denyrequest.checknothing]
            """);
        Write("ignored.txt", "kind: rule");

        var snapshot = Store().Load();

        snapshot.Errors.ShouldBeEmpty();
        snapshot.Resources.Keys.ShouldBe(
            [new ResourceKey("denier", "istio-system", "denyall"), new ResourceKey("checknothing", "istio-system", "denyrequest"), new ResourceKey("rule", "default", "r1")],
            ignoreOrder: true);
        var denier = snapshot.Resources[new ResourceKey("denier", "istio-system", "denyall")];
        denier.Position.ShouldBe(new SourcePosition("a.yaml", 1));
        denier.Key.FullName.ShouldBe("denyall.denier.istio-system");
        var rule = snapshot.Resources[new ResourceKey("rule", "default", "r1")];
        rule.Position.ShouldBe(new SourcePosition(Path.Combine("sub", "b.yml"), 1));
        rule.Spec.TryGet("match", out var match).ShouldBeTrue();
        ((ConfigScalar)match).Value.ShouldBe("request.headers[\"clnt\"] == \"abc\"");
        match.Position.Line.ShouldBe(5);
    }

    [Fact]
    public void Load_YamlSyntaxError_NamesFileAndLineAndKeepsOtherDocuments()
    {
        Write("broken.yaml", """
            apiVersion: config.istio.io/v1alpha2
            kind: checknothing
            metadata: {name: ok, namespace: istio-system}
            ---
            apiVersion: config.istio.io/v1alpha2
            kind: rule
            metadata: {name: bad, namespace: istio-system
            spec: {}
            """);

        var snapshot = Store().Load();

        snapshot.Resources.Keys.ShouldContain(new ResourceKey("checknothing", "istio-system", "ok"));
        snapshot.Resources.Count.ShouldBe(1);
        var error = snapshot.Errors.ShouldHaveSingleItem();
        error.Position.File.ShouldBe("broken.yaml");
        error.Position.Line.ShouldBeInRange(5, 9);
        error.ToString().ShouldContain("YAML syntax");
    }

    [Theory]
    [InlineData("kind: rule\nmetadata: {namespace: ns}\n", "metadata.name", "missing")]
    [InlineData("kind: rule\nmetadata: {name: n}\n", "metadata.namespace", "missing")]
    [InlineData("apiVersion: config.istio.io/v1alpha2\nkind: rulle\nmetadata: {name: n, namespace: ns}\n", "kind", "unknown kind 'rulle' (did you mean 'rule'?)")]
    [InlineData("metadata: {name: n, namespace: ns}\n", "kind", "missing")]
    [InlineData("apiVersion: config.istio.io/v1alpha2\nkind: rule\nmetadata: {name: n, namespace: ns}\nspec: [1]\n", "spec", "must be a map")]
    [InlineData("apiVersion: v2\nkind: rule\nmetadata: {name: n, namespace: ns}\n", "apiVersion", "'v2' is not config.istio.io/v1alpha2")]
    public void Load_BadEnvelope_IsAnErrorNamingFieldAndReason(string yaml, string field, string reason)
    {
        Write("x.yaml", "# leading comment\n" + yaml);

        var snapshot = Store().Load();

        snapshot.Resources.ShouldBeEmpty();
        var error = snapshot.Errors.ShouldHaveSingleItem();
        error.Field.ShouldBe(field);
        error.Reason.ShouldContain(reason);
        error.Position.File.ShouldBe("x.yaml");
        error.Position.Line.ShouldBeGreaterThanOrEqualTo(2);
    }

    [Fact]
    public void Load_OtherApiGroups_AreLeftAloneWithoutError()
    {
        Write("net.yaml", """
            apiVersion: networking.istio.io/v1alpha3
            kind: VirtualService
            metadata: {name: reviews, namespace: default}
            spec: {hosts: [reviews]}
            ---
            apiVersion: config.istio.io/v1alpha2
            kind: QuotaSpec
            metadata: {name: q, namespace: default}
            spec: {}
            """);

        var snapshot = Store().Load();

        snapshot.Resources.ShouldBeEmpty();
        snapshot.Errors.ShouldBeEmpty();
    }

    [Fact]
    public void Load_SameKeyTwice_LaterWinsAndIsReported()
    {
        const string doc = "apiVersion: config.istio.io/v1alpha2\nkind: checknothing\nmetadata: {name: n, namespace: ns}\n";
        Write("a.yaml", doc);
        Write("b.yaml", doc + "spec: {}\n");

        var snapshot = Store().Load();

        snapshot.Resources.ShouldHaveSingleItem().Value.Position.File.ShouldBe("b.yaml");
        snapshot.Errors.ShouldHaveSingleItem().Reason.ShouldContain("a.yaml:1");
    }

    [Fact]
    public void Spec_SnakeAndCamelCaseFieldNames_BothFound()
    {
        Write("p.yaml", """
            apiVersion: config.istio.io/v1alpha2
            kind: prometheus
            metadata: {name: handler, namespace: istio-system}
            spec:
              metrics:
              - instance_name: requestcount.metric.istio-system
                labelNames: [a]
            """);

        var spec = Store().Load().Resources.Values.Single().Spec;

        var metric = (ConfigMap)((ConfigList)(spec.TryGet("metrics", out var m) ? m : null!)).Items[0];
        metric.TryGet("instanceName", out _).ShouldBeTrue();
        metric.TryGet("label_names", out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Watch_FileChanged_AnnouncesNewSnapshotWithinASecond()
    {
        Write("a.yaml", "apiVersion: config.istio.io/v1alpha2\nkind: checknothing\nmetadata: {name: one, namespace: ns}\n");
        using var store = Store();
        var changed = new TaskCompletionSource<StoreSnapshot>(TaskCreationOptions.RunContinuationsAsynchronously);
        store.Watch(s => changed.TrySetResult(s));

        Write("b.yaml", "apiVersion: config.istio.io/v1alpha2\nkind: checknothing\nmetadata: {name: two, namespace: ns}\n");
        var snapshot = await changed.Task.WaitAsync(TimeSpan.FromSeconds(10));

        snapshot.Resources.Keys.ShouldContain(new ResourceKey("checknothing", "ns", "two"));
        snapshot.Resources.Count.ShouldBe(2);
    }
}
