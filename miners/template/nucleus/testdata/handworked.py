# Works out TestHandComputed's expected values without Go: the embedding's
# PCG-DXSM stream in integer arithmetic, then one encoder layer in plain floats.
# Run with python3; it prints the attention weights, the pre-ReLU hidden units
# and the rows of the last layer norm that the test checks.
import math
M=(1<<64)-1
MUL=(2549297995355413924<<64)|4865540595714422341
INC=(6364136223846793005<<64)|1442695040888963407
def mix64(x):
    x^=x>>30; x=(x*0xbf58476d1ce4e5b9)&M; x^=x>>27; x=(x*0x94d049bb133111eb)&M; x^=x>>31; return x
def pcg(hi,lo):
    s=(hi<<64)|lo
    while True:
        s=(s*MUL+INC)&((1<<128)-1)
        h=s>>64; l=s&M
        h^=h>>32; h=(h*0xda942042e4dd58b5)&M; h^=h>>48; h=(h*(l|1))&M
        yield h
SALT=0x656d626564646e67
def embed(seed,t,width):
    g=pcg(mix64(seed^SALT),mix64(t))
    sc=0.1*math.sqrt(width)
    return [sc*(2*((next(g)>>11)*2.0**-53)-1) for _ in range(width)]
W=4; H=2; dh=W//H
toks=[7,50377,123]
S=len(toks)
x=[embed(0,t,W) for t in toks]
print("emb",x)
for p in range(S):
    for c in range(W):
        f=10000**(-(c-c%2)/W)
        x[p][c]+= math.sin(p*f) if c%2==0 else math.cos(p*f)
def mat(rows,cols,a,b,c): return [[((a*i+b*j+c)%11-5)/10 for j in range(cols)] for i in range(rows)]
def vec(n,a,c): return [((a*j+c)%7-3)/20 for j in range(n)]
def lin(v,w,b): return [b[j]+sum(v[i]*w[i][j] for i in range(len(v))) for j in range(len(b))]
def ln(v,g,b):
    m=sum(v)/len(v); var=sum((a-m)**2 for a in v)/len(v)
    return [(a-m)/math.sqrt(var+1e-5)*g[i]+b[i] for i,a in enumerate(v)]
Wqkv=mat(W,3*W,7,3,1); bqkv=vec(3*W,2,1)
Wo=mat(W,W,5,2,3); bo=vec(W,3,2)
W1=mat(W,2,3,5,4); b1=vec(2,1,0)
W2=mat(2,W,2,7,5); b2=vec(W,4,3)
g1=[1.5,0.5,1.0,0.8]; be1=[0.2,-0.1,0.0,0.3]; g2=[2.0,0.5,1.2,0.7]; be2=[0.1,-0.3,0.05,0.0]
qkv=[lin(v,Wqkv,bqkv) for v in x]
ctx=[[0.0]*W for _ in range(S)]
for a in range(S):
    for h in range(H):
        s=[sum(qkv[a][d]*qkv[c][W+d] for d in range(h*dh,(h+1)*dh))/math.sqrt(dh) for c in range(S)]
        m=max(s); e=[math.exp(z-m) for z in s]; t=sum(e); p=[z/t for z in e]
        print("attn",a,h,["%.4f"%z for z in p])
        for d in range(h*dh,(h+1)*dh): ctx[a][d]=sum(p[c]*qkv[c][2*W+d] for c in range(S))
x=[ln([x[a][d]+o for d,o in enumerate(lin(ctx[a],Wo,bo))],g1,be1) for a in range(S)]
pre=[lin(v,W1,b1) for v in x]
print("pre-relu",pre)
h=[[max(0,z) for z in r] for r in pre]
x=[ln([x[a][d]+o for d,o in enumerate(lin(h[a],W2,b2))],g2,be2) for a in range(S)]
for r in x: print("{"+", ".join(repr(v) for v in r)+"},")
