using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using static Microsoft.CodeAnalysis.CSharp.SyntaxFactory;

namespace Mixer.Adapters.Script;

/// <summary>
/// Instruments a script so that runaway code stops: a <see cref="ScriptBudget.Tick"/> at the top of
/// every loop body and before every <c>goto</c> (so <c>while (true) {}</c> and backward jumps end),
/// a <see cref="ScriptBudget.Enter"/> at the entry of every method, local function, lambda and
/// anonymous method (so unbounded recursion ends, before it overflows the stack), the filter
/// <c>when (ScriptBudget.Live)</c> on every catch clause (so the stop cannot be caught and ignored)
/// and <c>if (ScriptBudget.Live)</c> around every finally block (so no script code runs while a
/// stopped call unwinds). Expression bodies become block bodies to make room for the entry check. Inserted
/// code carries no line breaks, so the script's line numbers are unchanged.
/// </summary>
internal sealed class BudgetRewriter(SemanticModel model) : CSharpSyntaxRewriter
{
    private static readonly StatementSyntax TickCall = Call(nameof(ScriptBudget.Tick));
    private static readonly StatementSyntax EnterCall = Call(nameof(ScriptBudget.Enter));
    private static readonly ExpressionSyntax LiveExpression = ParseExpression("global::Mixer.Adapters.Script.ScriptBudget.Live", options: ScriptSource.ParseOptions);

    public override SyntaxNode? VisitWhileStatement(WhileStatementSyntax node)
    {
        var visited = (WhileStatementSyntax)base.VisitWhileStatement(node)!;
        return visited.WithStatement(Prepend(TickCall, visited.Statement));
    }

    public override SyntaxNode? VisitDoStatement(DoStatementSyntax node)
    {
        var visited = (DoStatementSyntax)base.VisitDoStatement(node)!;
        return visited.WithStatement(Prepend(TickCall, visited.Statement));
    }

    public override SyntaxNode? VisitForStatement(ForStatementSyntax node)
    {
        var visited = (ForStatementSyntax)base.VisitForStatement(node)!;
        return visited.WithStatement(Prepend(TickCall, visited.Statement));
    }

    public override SyntaxNode? VisitForEachStatement(ForEachStatementSyntax node)
    {
        var visited = (ForEachStatementSyntax)base.VisitForEachStatement(node)!;
        return visited.WithStatement(Prepend(TickCall, visited.Statement));
    }

    public override SyntaxNode? VisitForEachVariableStatement(ForEachVariableStatementSyntax node)
    {
        var visited = (ForEachVariableStatementSyntax)base.VisitForEachVariableStatement(node)!;
        return visited.WithStatement(Prepend(TickCall, visited.Statement));
    }

    public override SyntaxNode? VisitGotoStatement(GotoStatementSyntax node)
    {
        var visited = (GotoStatementSyntax)base.VisitGotoStatement(node)!;
        return Wrap(TickCall, visited);
    }

    public override SyntaxNode? VisitCatchClause(CatchClauseSyntax node)
    {
        // when (Live) / when (Live && (filter)): a stopped call's exception passes every catch, in one unwinding.
        var visited = (CatchClauseSyntax)base.VisitCatchClause(node)!;
        var condition = visited.Filter is { } filter
            ? BinaryExpression(SyntaxKind.LogicalAndExpression, LiveExpression, ParenthesizedExpression(filter.FilterExpression))
            : LiveExpression;
        var when = Token(SyntaxKind.WhenKeyword).WithLeadingTrivia(Space).WithTrailingTrivia(Space);
        var clause = CatchFilterClause(when, Token(SyntaxKind.OpenParenToken), condition, Token(SyntaxKind.CloseParenToken));
        if (visited.Filter is { } old)
        {
            clause = clause.WithCloseParenToken(clause.CloseParenToken.WithTrailingTrivia(old.CloseParenToken.TrailingTrivia));
        }

        return visited.WithFilter(clause);
    }

    public override SyntaxNode? VisitFinallyClause(FinallyClauseSyntax node)
    {
        // if (Live) { ... }: a stopped call runs no script code while it unwinds.
        var visited = (FinallyClauseSyntax)base.VisitFinallyClause(node)!;
        var body = visited.Block;
        var guarded = IfStatement(LiveExpression, body.WithOpenBraceToken(Token(SyntaxKind.OpenBraceToken)).WithCloseBraceToken(Token(SyntaxKind.CloseBraceToken)));
        return visited.WithBlock(Block(guarded)
            .WithOpenBraceToken(body.OpenBraceToken)
            .WithCloseBraceToken(body.CloseBraceToken));
    }

    public override SyntaxNode? VisitMethodDeclaration(MethodDeclarationSyntax node)
    {
        var visited = (MethodDeclarationSyntax)base.VisitMethodDeclaration(node)!;
        return visited.Body is { } body ? visited.WithBody(body.WithStatements(InsertFirst(body.Statements, EnterCall))) : visited;
    }

    public override SyntaxNode? VisitLocalFunctionStatement(LocalFunctionStatementSyntax node)
    {
        var returnsVoid = model.GetDeclaredSymbol(node) is IMethodSymbol { ReturnsVoid: true };
        var visited = (LocalFunctionStatementSyntax)base.VisitLocalFunctionStatement(node)!;
        if (visited.Body is { } body)
        {
            return visited.WithBody(body.WithStatements(InsertFirst(body.Statements, EnterCall)));
        }

        // The block's closing brace takes the semicolon's place and its trailing line break.
        var expression = visited.ExpressionBody!.Expression;
        var block = Block(EnterCall, Result(expression, returnsVoid));
        return visited
            .WithExpressionBody(null)
            .WithSemicolonToken(default)
            .WithBody(block.WithCloseBraceToken(block.CloseBraceToken.WithTrailingTrivia(visited.SemicolonToken.TrailingTrivia)));
    }

    public override SyntaxNode? VisitParenthesizedLambdaExpression(ParenthesizedLambdaExpressionSyntax node)
    {
        var returnsVoid = ReturnsVoid(node);
        return Instrument((ParenthesizedLambdaExpressionSyntax)base.VisitParenthesizedLambdaExpression(node)!, returnsVoid);
    }

    public override SyntaxNode? VisitSimpleLambdaExpression(SimpleLambdaExpressionSyntax node)
    {
        var returnsVoid = ReturnsVoid(node);
        return Instrument((SimpleLambdaExpressionSyntax)base.VisitSimpleLambdaExpression(node)!, returnsVoid);
    }

    public override SyntaxNode? VisitAnonymousMethodExpression(AnonymousMethodExpressionSyntax node)
    {
        var visited = (AnonymousMethodExpressionSyntax)base.VisitAnonymousMethodExpression(node)!;
        return visited.WithBlock(visited.Block.WithStatements(InsertFirst(visited.Block.Statements, EnterCall)));
    }

    private bool ReturnsVoid(LambdaExpressionSyntax node) => model.GetSymbolInfo(node).Symbol is IMethodSymbol { ReturnsVoid: true };

    private static LambdaExpressionSyntax Instrument(LambdaExpressionSyntax lambda, bool returnsVoid)
    {
        if (lambda.Block is { } block)
        {
            return lambda.WithBlock(block.WithStatements(InsertFirst(block.Statements, EnterCall)));
        }

        var expression = lambda.ExpressionBody!;
        return lambda.WithExpressionBody(null).WithBlock(Block(EnterCall, Result(expression, returnsVoid)));
    }

    private static StatementSyntax Result(ExpressionSyntax expression, bool returnsVoid) => expression switch
    {
        ThrowExpressionSyntax t => ThrowStatement(t.Expression),
        _ when returnsVoid => ExpressionStatement(expression),
        _ => ReturnStatement(Token(SyntaxKind.ReturnKeyword).WithTrailingTrivia(Space), expression, Token(SyntaxKind.SemicolonToken)),
    };

    private static StatementSyntax Prepend(StatementSyntax first, StatementSyntax body) =>
        body is BlockSyntax block ? block.WithStatements(InsertFirst(block.Statements, first)) : Wrap(first, body);

    /// <summary>A block of <paramref name="first"/> and <paramref name="statement"/>, starting where the statement's leading trivia did.</summary>
    private static BlockSyntax Wrap(StatementSyntax first, StatementSyntax statement) =>
        Block(first, statement.WithLeadingTrivia()).WithLeadingTrivia(statement.GetLeadingTrivia());

    /// <summary>
    /// Puts <paramref name="first"/> before the first statement, on that statement's line: it takes
    /// over the statement's leading trivia (indentation, comments, the script's <c>#line</c>), so
    /// every line keeps its number.
    /// </summary>
    private static SyntaxList<StatementSyntax> InsertFirst(SyntaxList<StatementSyntax> statements, StatementSyntax first)
    {
        if (statements.Count == 0)
        {
            return statements.Add(first);
        }

        var head = statements[0];
        return statements.Replace(head, head.WithLeadingTrivia()).Insert(0, first.WithLeadingTrivia(head.GetLeadingTrivia()));
    }

    private static StatementSyntax Call(string method) =>
        ParseStatement($"global::Mixer.Adapters.Script.ScriptBudget.{method}();", options: ScriptSource.ParseOptions);
}
